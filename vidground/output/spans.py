"""Read time spans out of a model's answer.

``parse_spans`` turns whatever Qwen2.5-VL wrote into ``Span`` values in model time (seconds from the first
sampled frame, spec section 6); mapping them to video time is the caller's job (spec 11.4). It never raises on
odd text: what the answer said is ``ParsedSpans.outcome`` (found, says absent, empty list, unreadable, with
``reason`` saying why nothing was found), every repair it made is in ``issues``, and each span keeps where its
two times stand in the text (``positions``), so that scores read the probabilities of exactly those tokens.

How an answer is read, in order:

1. **JSON.** The contents of ```json fences (or, without fences, every JSON value embedded in the text) are
   decoded, strictly and then as Python literals (single quotes, trailing commas). Objects give a span from
   ``start_time``/``end_time`` (or ``start``/``end``, ``begin``/``end``, ``start_s``/``end_s``) or from a
   two-item ``timestamp``/``timestamps``/``time``/``span``/``segment`` value, with text from
   ``description``/``caption``/``event``/``text``/``sentence``; bare lists ``[[1.0, 2.0], [5, 6]]`` give spans
   without text. Values are numbers of seconds or time strings (``"00:23.90"``, ``"3.2s"``). JSON that does
   not decode (e.g. cut off by the token limit) is salvaged object by object; failing that, step 2 reads its
   text. An answer whose JSON is just ``[]`` (fenced or bare) says there is nothing to report.
2. **Pairs in free text**: ``64.0 - 72.0 seconds``, ``from 12.5 to 17 seconds``, ``between 3s and 7s``,
   ``3.5s-7.25s``, ``at 00:12 to 00:17``, ``[12.5, 17.0]``, with times in seconds (``s``/``sec``/``seconds``,
   or ``min``/``minutes``), ``mm:ss.ff`` (hundredths, as the cookbook), ``12:34.56s`` (Qwen's
   minutes:seconds.hundredths training form), ``HH:MM:SS(.mmm)`` and hmsf ``HH:MM:SS:FF`` / ``HH:MM:SS;FF``. A
   unit written once after the second value applies to both (``64.0 - 72.0 seconds``).
3. **Lone times** (``starts at 00:12 ... ends at 00:17``, ``start_time": "00:23.90"``) are joined
   start-to-end, or start plus a following duration (``at 12 s, lasting 3 seconds``).

Decisions (each noted in ``issues`` when it applies):

- A lone number needs a time unit or a clock form to count as a time, so ``2 people`` and ``in 1990`` are
  ignored. A unit-less pair (``happens in 64.0 - 72.0.``) is read as seconds, unless both values are
  four-digit integers (years) or a noun follows it (``2 - 3 people``); ``and`` joins a pair only after
  ``between``.
- A lone time with nothing to pair it with (``at 12 seconds``) becomes a zero-length span, but only when the
  answer has no pairs at all; next to real pairs it is ignored (it is usually a duration or a remark).
- hmsf ``HH:MM:SS:FF`` without ``fps`` is refused (the frame field cannot be turned into seconds without the
  rate; reading it as hundredths would silently shift the span).
- Reversed pairs are swapped; zero-length spans are kept; negative or non-finite values drop their span.
- An explicit negation (``does not occur``, ``not present``, ``no such event``, ``doesn't happen``,
  ``never``...) with no span, or with only lone times (``doesn't happen in the 30 second clip``), gives
  outcome ``SAYS_ABSENT`` and reason ``"model says the event does not occur"``; when real pairs are present as
  well they are kept and the negation is noted.
- Several spans on separate lines of free text (dense captions) take the rest of their line as text.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from vidground.errors import TimecodeError
from vidground.output.timecodes import format_timecode, parse_timecode
from vidground.timeline import Span

__all__ = ["CharRange", "ParseOutcome", "ParsedSpans", "SpanChars", "parse_spans"]

CharRange = tuple[int, int]  # [start, end) character offsets into the answer text


class ParseOutcome(StrEnum):
    """What one answer said, as :func:`parse_spans` read it."""

    FOUND = "found"  # at least one span
    SAYS_ABSENT = "says_absent"  # an explicit negation in words ("The given query does not occur ...")
    EMPTY_LIST = "empty_list"  # a JSON ``[]``, e.g. a caption window with no events
    UNREADABLE = "unreadable"  # none of the above; ``reason`` says what was wrong


@dataclass(frozen=True)
class SpanChars:
    """Where one span's start and end times stand in the answer text; None where that cannot be known.

    Each range covers the time expression itself, without unit or quotes. Example: in ``"happens in 64.0 -
    72.0 seconds."`` the span 64.0-72.0 has ``start_chars=(11, 15)`` (``64.0``) and ``end_chars=(18, 22)``; in
    ``{"start_time": "00:23.90", ...}`` the start is the ``00:23.90`` inside the quotes. A span made of a lone
    time and a duration has the duration's range as ``end_chars``; a lone time read as a point has its range
    twice.
    """

    start_chars: CharRange | None
    end_chars: CharRange | None


@dataclass(frozen=True)
class ParsedSpans:
    """Every span read from one answer, where each stood in the text, and what went wrong or was repaired."""

    spans: tuple[Span, ...]  # in model time (seconds from the clip start), in the answer's order
    positions: tuple[SpanChars, ...]  # where each span's times stand in ``raw``, aligned with ``spans``
    outcome: ParseOutcome
    reason: str | None  # why no span was found; None when found
    issues: tuple[str, ...]  # notes about repairs and things skipped
    raw: str

    @property
    def found(self) -> bool:
        """Whether at least one span was read (outcome ``FOUND``)."""
        return self.outcome is ParseOutcome.FOUND


NEGATION_REASON = "model says the event does not occur"

# One time value: hmsf, h:mm:ss(.fff), m:ss(.ff), or a plain number.
_TIME = (
    r"(?:\d{1,3}:\d{1,2}:\d{1,2}[:;]\d{1,3}"  # hmsf
    r"|\d{1,3}:\d{1,2}:\d{1,2}(?:\.\d+)?"  # clock
    r"|\d{1,4}:\d{1,2}(?:\.\d+)?"  # mm:ss.ff
    r"|\d+(?:\.\d+)?|\.\d+)"
)
_UNIT = r"(?:seconds?|secs?|s|minutes?|mins?)"
_SEP = r"(?:-|–|—|~|,|\bto\b|\buntil\b|\btill\b|\bthrough\b|\band\b)"
_PAIR_RE = re.compile(
    rf"""
    (?:(?P<intro>\b(?:from|between))\s+)?
    (?P<open>[\[(]\s*)?
    (?P<na>(?<![\w.:])-)?(?<![\w.:])(?P<a>{_TIME})(?:\s*(?P<ua>{_UNIT})\b)?
    \s*(?P<sep>{_SEP})\s*
    (?P<nb>-)?(?P<b>{_TIME})(?:\s*(?P<ub>{_UNIT})\b|(?!\w|[.:]\d))
    (?P<close>\s*[\])])?
    """,
    re.IGNORECASE | re.VERBOSE,
)
_SINGLE_RE = re.compile(
    rf"(?P<neg>(?<![\w.:])-)?(?<![\w.:])(?P<t>{_TIME})(?:\s*(?P<u>{_UNIT})\b|(?!\w|[.:]\d))",
    re.IGNORECASE,
)
_TIME_TEXT_RE = re.compile(rf"\s*(?P<neg>-)?\s*(?P<t>{_TIME})\s*(?P<u>{_UNIT})?\s*", re.IGNORECASE)
_ROLE_RE = re.compile(
    r"\b(start|starts|starting|begin|begins|beginning|from|end|ends|ending|finish|finishes|stop|stops|until|till"
    r"|for|last|lasts|lasting|duration)(?![a-z])",
    re.IGNORECASE,
)
_ROLES = {
    **dict.fromkeys(("start", "starts", "starting", "begin", "begins", "beginning", "from"), "start"),
    **dict.fromkeys(("end", "ends", "ending", "finish", "finishes", "stop", "stops", "until", "till"), "end"),
    **dict.fromkeys(("for", "last", "lasts", "lasting", "duration"), "duration"),
}
_FUNCTION_WORDS = frozenset(
    "in of into within during when where while and or then for at on as after before is are was it this that"
    " the video clip".split()
)
_NEGATION_RE = re.compile(
    r"\b(?:does\s*n[o']t|doesn't|do\s*n[o']t|don't|did\s*n[o']t|didn't|is\s*n[o']t|isn't|are\s*n[o']t|aren't"
    r"|was\s*n[o']t|wasn't|can\s*not|cannot|can't|could\s*n[o']t|couldn't)\s+(?:\w+\s+){0,2}?"
    r"(?:occur|happen|appear|exist|take\s+place|be\s+found|found|shown|show|present|visible|seen|contain|include)"
    r"|\bnot\s+(?:present|found|shown|visible|seen|depicted|included)\b"
    r"|\bno\s+such\b|\bnever\b|\bthere\s+(?:is|are)\s+no\b|\bnowhere\b",
    re.IGNORECASE,
)
_FENCE_RE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)(?:```|$)", re.DOTALL)
_OBJECT_RE = re.compile(r"\{[^{}]*\}")
# One scalar literal of JSON or of a Python literal: a string, a number, or a word constant.
_LITERAL_RE = re.compile(
    r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'"""
    r"|-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
    r"|-?\b(?:true|false|null|True|False|None|NaN|Infinity)\b",
    re.DOTALL,
)
_BRACKET_RE = re.compile(r"[\[{]")
_START_KEYS = ("start_time", "start", "begin", "start_s", "start_sec", "start_seconds", "from")
_END_KEYS = ("end_time", "end", "finish", "end_s", "end_sec", "end_seconds", "to")
_PAIR_KEYS = ("timestamp", "timestamps", "time", "times", "span", "segment", "interval", "time_range")
_TEXT_KEYS = ("description", "caption", "event", "text", "sentence", "activity", "action", "label")


@dataclass(frozen=True)
class _Candidate:
    """A span as read, before validation."""

    start_s: float
    end_s: float
    text: str | None
    where: str  # the answer's words it came from, for issues
    pos: CharRange = (-1, -1)  # character range of the whole pair in the answer (free text only)
    point: bool = False  # a lone time read as a zero-length span (already noted in issues)
    start_chars: CharRange | None = None  # where the start time stands in the answer
    end_chars: CharRange | None = None  # where the end time (or the duration) stands


JsonPath = tuple[object, ...]  # keys and indices from a decoded JSON value down to one of its scalars


class _Skip(Exception):
    """A value that cannot become a time; the message goes into ``issues``."""


def _num(x: float) -> str:
    return format_timecode(x)[:-1] if math.isfinite(x) and x >= 0 else repr(x)


def _time_value(token: str, unit: str | None, neg: bool, fps: float | None) -> float:
    """Seconds of one time token read by the regexes: unit ``min*`` scales plain numbers by 60."""
    if neg:
        raise _Skip(f"rejected negative time -{token}")
    if token.count(":") + token.count(";") == 3:  # hmsf HH:MM:SS:FF
        if fps is None:
            raise _Skip(f"refused hmsf timecode {token}: needs the video fps")
        try:
            return parse_timecode(token, fps=fps)
        except TimecodeError as exc:
            raise _Skip(f"refused timecode {token}: {exc}") from None
    try:
        value = parse_timecode(token)
    except TimecodeError as exc:
        raise _Skip(f"refused timecode {token}: {exc}") from None
    if ":" not in token and unit is not None and unit.lower().startswith("min"):
        value *= 60
    return value


def _json_time(value: object, fps: float | None) -> float:
    if isinstance(value, bool) or value is None:
        raise _Skip(f"JSON time {value!r} is not a time")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise _Skip(f"rejected non-finite time {value!r}")
        if value < 0:
            raise _Skip(f"rejected negative time {value!r}")
        return float(value)
    if isinstance(value, str) and (m := _TIME_TEXT_RE.fullmatch(value)):
        return _time_value(m.group("t"), m.group("u"), m.group("neg") is not None, fps)
    raise _Skip(f"JSON time {value!r} is not a time")


def _time_chars(value: object, literal: CharRange | None) -> CharRange | None:
    """Where a JSON time value read by :func:`_json_time` stands: a number's literal, a string's time part."""
    if literal is None:
        return None
    if isinstance(value, str):
        m = _TIME_TEXT_RE.fullmatch(value)
        return None if m is None else (literal[0] + m.start("t"), literal[0] + m.end("t"))
    return literal


def _lookup(obj: dict[str, object], keys: tuple[str, ...], path: JsonPath) -> tuple[object | None, JsonPath]:
    """The value of the first of ``keys`` in ``obj`` (any case; None when none is there) and its path."""
    written = {str(k).lower(): k for k in obj}
    for key in keys:
        if key in written:
            return obj[written[key]], (*path, written[key])
    return None, path


def _is_scalar(x: object) -> bool:
    return isinstance(x, int | float | str) and not isinstance(x, bool)


def _shift(chars: CharRange | None, offset: int | None) -> CharRange | None:
    return None if chars is None or offset is None else (chars[0] + offset, chars[1] + offset)


def _walk_json(
    obj: object,
    fps: float | None,
    issues: list[str],
    literals: Mapping[JsonPath, CharRange],
    path: JsonPath = (),
    text: str | None = None,
) -> Iterator[_Candidate]:
    """Candidates from a decoded JSON value (list of objects, list of pairs, one object, a wrapper object).

    ``literals`` says where the value's scalars stand in the answer (see :func:`_literal_chars`), ``path`` is
    where ``obj`` sits in that value.
    """
    if isinstance(obj, list | tuple):
        if len(obj) == 2 and all(_is_scalar(x) for x in obj):
            where = json.dumps(list(obj))
            try:
                yield _Candidate(
                    _json_time(obj[0], fps),
                    _json_time(obj[1], fps),
                    text,
                    where,
                    start_chars=_time_chars(obj[0], literals.get((*path, 0))),
                    end_chars=_time_chars(obj[1], literals.get((*path, 1))),
                )
            except _Skip as exc:
                issues.append(f"{exc} in {where}")
            return
        for i, item in enumerate(obj):
            yield from _walk_json(item, fps, issues, literals, (*path, i))
        return
    if not isinstance(obj, dict):
        return
    item_text, _ = _lookup(obj, _TEXT_KEYS, path)
    label = item_text.strip() or None if isinstance(item_text, str) else None
    (start, start_at), (end, end_at) = _lookup(obj, _START_KEYS, path), _lookup(obj, _END_KEYS, path)
    if start is not None or end is not None:
        where = json.dumps(obj, ensure_ascii=False, default=str)[:80]
        try:
            if start is None or end is None:
                raise _Skip("skipped JSON item with only one of start and end")
            yield _Candidate(
                _json_time(start, fps),
                _json_time(end, fps),
                label,
                where,
                start_chars=_time_chars(start, literals.get(start_at)),
                end_chars=_time_chars(end, literals.get(end_at)),
            )
        except _Skip as exc:
            issues.append(f"{exc} in {where}")
        return
    pair, pair_at = _lookup(obj, _PAIR_KEYS, path)
    if isinstance(pair, str):
        content = literals.get(pair_at)
        offset = None if content is None else content[0]
        for cand in _free_text_pairs(pair, fps, issues):
            yield _Candidate(
                cand.start_s,
                cand.end_s,
                label,
                cand.where,
                start_chars=_shift(cand.start_chars, offset),
                end_chars=_shift(cand.end_chars, offset),
            )
        return
    if isinstance(pair, list | tuple):
        yield from _walk_json(pair, fps, issues, literals, pair_at, label)
        return
    for key, value in obj.items():
        if isinstance(value, list | dict):
            yield from _walk_json(value, fps, issues, literals, (*path, key))


def _decode(block: str) -> object:
    """A JSON value from text, strictly or as a Python literal; raises ValueError when neither works."""
    try:
        return json.loads(block)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(block.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        raise ValueError("not JSON") from None


def _same_scalar(a: object, b: object) -> bool:
    nan = isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    return type(a) is type(b) and (a == b or nan)


def _literal_chars(value: object, text: str, lo: int, hi: int) -> dict[JsonPath, CharRange]:
    """Where each scalar of ``value``, decoded from ``text[lo:hi]``, was written: character ranges by path.

    The scalar literals of the text (strings, numbers, ``true``...) are taken left to right, one per scalar of
    the value in its order (object keys included), each checked to decode to that scalar. A number maps to its
    literal, a string to the characters between its quotes (only when it has no escapes, so that offsets
    inside it hold). Whatever does not line up (a duplicate key, Python-only syntax such as ``0x10`` or
    ``1_000``) gives an empty map: the positions of that value's spans are then unknown.

    Example: ``{"start": 3.5, "end": "00:07"}`` with ``lo=0`` -> ``{("start",): (10, 13), ("end",): (23, 28)}``.
    """
    found = _LITERAL_RE.finditer(text, lo, hi)
    chars: dict[JsonPath, CharRange] = {}

    def take(scalar: object, path: JsonPath | None) -> bool:
        m = next(found, None)
        if m is None:
            return False
        try:
            read = _decode(m.group())
        except ValueError:
            return False
        if not _same_scalar(read, scalar):
            return False
        if path is not None and m.group()[0] not in "\"'":
            chars[path] = m.span()
        elif path is not None and m.group()[1:-1] == scalar:
            chars[path] = (m.start() + 1, m.end() - 1)
        return True

    def walk(node: object, path: JsonPath) -> bool:
        if isinstance(node, dict):
            return all(take(key, None) and walk(item, (*path, key)) for key, item in node.items())
        if isinstance(node, list | tuple):
            return all(walk(item, (*path, i)) for i, item in enumerate(node))
        return take(node, path)

    try:
        lined_up = walk(value, ()) and next(found, None) is None
    except RecursionError:
        lined_up = False
    return chars if lined_up else {}


def _embedded_json(text: str) -> Iterator[tuple[object, int, int]]:
    """Every JSON list or object embedded in free text, left to right, not overlapping, with its range."""
    decoder = json.JSONDecoder()
    pos = 0
    while True:
        m = _BRACKET_RE.search(text, pos)
        if m is None:
            return
        try:
            value, end = decoder.raw_decode(text, m.start())
        except (ValueError, RecursionError):  # not JSON here, or nested too deep to be an answer
            pos = m.start() + 1
            continue
        yield value, m.start(), end
        pos = end


def _json_spans(text: str, fps: float | None, issues: list[str]) -> tuple[list[_Candidate] | None, bool]:
    """Candidates from the answer's JSON (None when it holds no JSON with spans), and whether that JSON was
    nothing but empty lists (``[]``, fenced or bare: "no events")."""
    fences = [(m.group(1), m.start(1)) for m in _FENCE_RE.finditer(text)]
    found: list[_Candidate] = []
    seen_json = False
    values: list[object] = []
    broken: list[tuple[str, int]] = []
    if fences:
        for block, at in fences:
            try:
                value = _decode(block)
            except ValueError:
                broken.append((block, at))
                continue
            seen_json = True
            values.append(value)
            literals = _literal_chars(value, text, at, at + len(block))
            found.extend(_walk_json(value, fps, issues, literals))
    else:
        for value, lo, hi in _embedded_json(text):
            before = len(found)
            values.append(value)
            found.extend(_walk_json(value, fps, issues, _literal_chars(value, text, lo, hi)))
            seen_json = seen_json or len(found) > before
        if not seen_json and "{" in text:
            broken.append((text, 0))
    for block, at in broken:
        salvaged: list[_Candidate] = []
        for chunk in _OBJECT_RE.finditer(block):
            try:
                obj = _decode(chunk.group())
            except ValueError:
                continue
            literals = _literal_chars(obj, text, at + chunk.start(), at + chunk.end())
            salvaged.extend(_walk_json(obj, fps, issues, literals))
        if salvaged:
            issues.append(f"malformed JSON: read {len(salvaged)} span(s) from its complete objects")
            found.extend(salvaged)
            seen_json = True
        elif fences:
            issues.append("malformed JSON: read spans from its text instead")
    empty_list = bool(values) and not broken and all(isinstance(v, list) and not v for v in values)
    if found or seen_json:
        return found, empty_list
    return None, empty_list


def _weak_pair_ok(m: re.Match[str], text: str) -> bool:
    """Whether a pair with no unit and no clock form reads as times rather than other numbers."""
    a, b = m.group("a"), m.group("b")
    if re.fullmatch(r"\d{4}", a) and re.fullmatch(r"\d{4}", b):
        return False  # "from 1990 to 2000"
    following = re.match(r"\s*([A-Za-z]+)", text[m.end() :])
    return following is None or following.group(1).lower() in _FUNCTION_WORDS


def _free_text_pairs(
    text: str, fps: float | None, issues: list[str], taken: list[tuple[int, int]] | None = None
) -> list[_Candidate]:
    """Candidates from ``A - B``-style pairs in free text (step 2 of the module docstring).

    ``taken`` collects the character range of every pair read, refused ones included, so their times are not
    read again as lone times.
    """
    found: list[_Candidate] = []
    pos = 0
    while (m := _PAIR_RE.search(text, pos)) is not None:
        sep = m.group("sep").lower()
        bracketed = m.group("open") is not None and m.group("close") is not None
        if (sep == "and" and (m.group("intro") or "").lower() != "between") or (sep == "," and not bracketed):
            pos = m.start("b")
            continue
        clock = ":" in m.group("a") or ":" in m.group("b")
        unit_b = m.group("ub") or m.group("ua")
        unit_a = m.group("ua") or m.group("ub")
        if unit_b is None and not clock and not _weak_pair_ok(m, text):
            pos = m.end("a")
            continue
        where = m.group(0).strip()
        if taken is not None:
            taken.append((m.start(), m.end()))
        try:
            start_s = _time_value(m.group("a"), unit_a, m.group("na") is not None, fps)
            end_s = _time_value(m.group("b"), unit_b, m.group("nb") is not None, fps)
        except _Skip as exc:
            issues.append(f"{exc} in {where!r}")
        else:
            if unit_b is None and not clock:
                issues.append(f"read unit-less pair {where!r} as seconds")
            found.append(
                _Candidate(
                    start_s,
                    end_s,
                    None,
                    where,
                    (m.start(), m.end()),
                    start_chars=m.span("a"),
                    end_chars=m.span("b"),
                )
            )
        pos = m.end()
    return found


def _lone_times(
    text: str, taken: list[tuple[int, int]], fps: float | None, issues: list[str], have_pairs: bool
) -> list[_Candidate]:
    """Candidates from lone times outside the pairs (step 3): start->end, start+duration, else points."""
    found: list[_Candidate] = []
    pending: tuple[float, str, int, CharRange] | None = None  # (start_s, words, position, time's characters)

    def flush() -> None:
        nonlocal pending
        if pending is None:
            return
        start_s, where, at, chars = pending
        if have_pairs:
            issues.append(f"ignored lone time {where!r}")
        else:
            issues.append(f"read lone time {where!r} as a zero-length span")
            found.append(
                _Candidate(
                    start_s, start_s, None, where, (at, at + len(where)), point=True, start_chars=chars, end_chars=chars
                )
            )
        pending = None

    for m in _SINGLE_RE.finditer(text):
        if any(lo <= m.start() < hi for lo, hi in taken):
            continue
        if ":" not in m.group("t") and m.group("u") is None:
            continue  # a bare number is not a time ("2 people", "in 1990")
        where = m.group(0).strip()
        try:
            value = _time_value(m.group("t"), m.group("u"), m.group("neg") is not None, fps)
        except _Skip as exc:
            issues.append(f"{exc} in {where!r}")
            continue
        roles = _ROLE_RE.findall(text[max(0, m.start() - 30) : m.start()])
        role = _ROLES[roles[-1].lower()] if roles else "point"
        if role == "end" and pending is not None:
            joined = f"{pending[1]} .. {where}"
            found.append(
                _Candidate(
                    pending[0],
                    value,
                    None,
                    joined,
                    (pending[2], m.end()),
                    start_chars=pending[3],
                    end_chars=m.span("t"),
                )
            )
            pending = None
        elif role == "duration" and pending is not None:
            span_end = pending[0] + value
            joined = f"{pending[1]} + {where}"
            found.append(
                _Candidate(
                    pending[0],
                    span_end,
                    None,
                    joined,
                    (pending[2], m.end()),
                    start_chars=pending[3],
                    end_chars=m.span("t"),
                )
            )
            issues.append(f"read {where!r} as the duration after {pending[1]!r}")
            pending = None
        elif role == "duration":
            issues.append(f"ignored duration {where!r} with no start before it")
        else:
            flush()
            pending = (value, where, m.start(), m.span("t"))
    flush()
    return found


def _line_texts(text: str, found: list[_Candidate]) -> list[_Candidate]:
    """Dense captions in free text: each span on its own line takes the rest of that line as its text."""
    if len(found) < 2 or any(c.pos[0] < 0 for c in found):
        return found
    lines = [text.count("\n", 0, c.pos[0]) for c in found]
    if len(set(lines)) != len(lines) or any(text.count("\n", c.pos[0], c.pos[1]) for c in found):
        return found
    out = []
    for cand in found:
        line_start = text.rfind("\n", 0, cand.pos[0]) + 1
        line_end = text.find("\n", cand.pos[1])
        line_end = len(text) if line_end < 0 else line_end
        rest = text[line_start : cand.pos[0]] + " " + text[cand.pos[1] : line_end]
        rest = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", rest)
        rest = re.sub(r"\s+", " ", rest).strip(" \t:;,.-–—*•|")
        out.append(replace(cand, text=rest or None))
    return out


def _validate(found: list[_Candidate], issues: list[str]) -> list[tuple[Span, SpanChars]]:
    spans = []
    for cand in found:
        start_s, end_s = cand.start_s, cand.end_s
        chars = SpanChars(start_chars=cand.start_chars, end_chars=cand.end_chars)
        if not (math.isfinite(start_s) and math.isfinite(end_s)):
            issues.append(f"rejected non-finite span {cand.where!r}")
            continue
        if start_s > end_s:
            issues.append(f"swapped reversed pair {_num(start_s)}-{_num(end_s)}")
            start_s, end_s = end_s, start_s
            chars = SpanChars(start_chars=cand.end_chars, end_chars=cand.start_chars)
        elif start_s == end_s and not cand.point:
            issues.append(f"kept zero-length span {_num(start_s)}-{_num(end_s)}")
        spans.append((Span(start_s=start_s, end_s=end_s, text=cand.text), chars))
    return spans


def parse_spans(text: str, *, fps: float | None = None) -> ParsedSpans:
    """Read every time span in a model's answer (see the module docstring for the forms and decisions).

    Args:
        text: the model's answer, as generated.
        fps: the video's frame rate, needed only to read hmsf ``HH:MM:SS:FF`` timecodes.

    Returns:
        ``ParsedSpans`` with spans in seconds of model time, in the answer's order (not sorted, not merged),
        where each one's times stand in ``text``, and the outcome.
        Example: ``"The given query happens in 64.0 - 72.0 seconds."`` -> one ``Span(64.0, 72.0)`` at
            ``SpanChars((27, 31), (34, 38))``, outcome ``FOUND``; a fenced JSON ``[]`` -> no span, outcome
            ``EMPTY_LIST``.

    Raises:
        Nothing for any string: unreadable answers give outcome ``UNREADABLE`` with a reason.
    """
    raw = text
    issues: list[str] = []
    if not text.strip():
        return ParsedSpans(
            spans=(), positions=(), outcome=ParseOutcome.UNREADABLE, reason="empty answer", issues=(), raw=raw
        )
    found, empty_list = _json_spans(text, fps, issues)
    if found is None:
        taken: list[tuple[int, int]] = []
        pairs = _free_text_pairs(text, fps, issues, taken)
        lone = _lone_times(text, taken, fps, issues, have_pairs=bool(pairs))
        found = _line_texts(text, sorted(pairs + lone, key=lambda c: c.pos[0]))
    negated = _NEGATION_RE.search(text.replace("’", "'")) is not None  # models also write "doesn’t"
    if negated and found and all(c.point for c in found):
        # "doesn't happen in the 30 second clip": a lone time is weaker evidence than an explicit negation.
        issues.append("ignored lone times: the answer says the event does not occur")
        found = []
    read = _validate(found, issues)
    if read:
        if negated:
            issues.append("answer also contains a negation; kept its spans")
        return ParsedSpans(
            spans=tuple(span for span, _ in read),
            positions=tuple(chars for _, chars in read),
            outcome=ParseOutcome.FOUND,
            reason=None,
            issues=tuple(issues),
            raw=raw,
        )
    outcome = ParseOutcome.UNREADABLE
    if negated:
        outcome, reason = ParseOutcome.SAYS_ABSENT, NEGATION_REASON
    elif empty_list:
        outcome, reason = ParseOutcome.EMPTY_LIST, "model answered with an empty list"
    elif not re.search(r"\d", text):
        reason = "no time values in answer"
    elif issues:
        reason = "no valid span in answer: " + "; ".join(issues)
    else:
        reason = "no time spans in answer (its numbers are not times)"
    return ParsedSpans(spans=(), positions=(), outcome=outcome, reason=reason, issues=tuple(issues), raw=raw)
