"""Ground truth for ``vidground eval``: the common temporal-grounding formats, read into one value type.

Supported formats (``GroundTruthFormat``), sniffed from the file extension and content unless given
explicitly:

- ``charades``: Charades-STA lines ``VIDEO_ID START END##sentence`` (times in seconds). No duration in the
  file. Query ids are ``VIDEO_ID#LINE`` with the 1-based line number, so they are stable for a given file.
- ``qvhighlights``: JSONL, one object per query with ``qid``, ``query``, ``vid``, ``duration`` and
  ``relevant_windows`` ``[[start, end], ...]`` (several windows per query allowed).
- ``activitynet``: ActivityNet-Captions JSON ``{video_id: {"duration", "timestamps": [[s, e], ...],
  "sentences"}}``; each sentence is one query with one window; query ids are ``VIDEO_ID#INDEX`` (0-based
  sentence index).
- ``csv``: a plain CSV with a header naming ``video``, ``query``, ``start``, ``end`` (``start_s``/``end_s``
  also accepted) and optional ``qid`` and ``duration``/``duration_s`` columns. Rows sharing a ``qid`` form one
  query with several windows; without a ``qid`` column each row is a query, id ``VIDEO#ROW`` (1-based data
  row).
- ``json``: the same records as a JSON list (or JSONL) of objects, each with ``start``/``end`` or ``windows``.

Ground truth is used as given (not clamped to the duration); a window must have finite ``0 <= start <= end``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from vidground.errors import EvalDataError

Window = tuple[float, float]


class GroundTruthFormat(StrEnum):
    CHARADES = "charades"
    QVHIGHLIGHTS = "qvhighlights"
    ACTIVITYNET = "activitynet"
    CSV = "csv"
    JSON = "json"


@dataclass(frozen=True)
class GroundTruthItem:
    """One query to ground: its text, the video it is about and the correct windows in seconds."""

    qid: str
    video: str  # a video id or a path relative to the videos folder (with or without extension)
    query: str
    windows: tuple[Window, ...]  # (start_s, end_s) pairs, at least one
    duration_s: float | None = None


def load_ground_truth(path: str | Path, *, format: GroundTruthFormat | None = None) -> list[GroundTruthItem]:
    """Read a ground-truth file in any supported format.

    Args:
        path: the file.
        format: the format; ``None`` sniffs it from the extension and content.

    Returns:
        The queries in file order.

    Raises:
        EvalDataError: the file cannot be read, is empty, its format cannot be recognised, or an entry is
            malformed (the message names the file, the line or entry, and what was expected).
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalDataError(f"{source}: cannot read ground truth: {exc}") from exc
    if not text.strip():
        raise EvalDataError(f"{source}: the ground-truth file is empty; expected one or more queries with windows")
    return parse_ground_truth(text, format=format or sniff_format(source, text), source=source)


def sniff_format(source: str, text: str) -> GroundTruthFormat:
    """Guess a ground-truth format from a file name and its text.

    Raises:
        EvalDataError: nothing matches.
    """
    suffix = Path(source).suffix.lower()
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if suffix == ".csv":
        return GroundTruthFormat.CSV
    if "##" in first and not first.startswith(("{", "[")):
        return GroundTruthFormat.CHARADES
    if (first.startswith("{") and suffix == ".jsonl") or _isjson_lines(text):
        return GroundTruthFormat.QVHIGHLIGHTS if '"relevant_windows"' in first else GroundTruthFormat.JSON
    stripped = text.lstrip()
    if stripped.startswith("["):
        return GroundTruthFormat.JSON
    if stripped.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EvalDataError(f"{source}:{exc.lineno}: invalid JSON: {exc.msg}") from exc
        first_value = next(iter(data.values()), None) if isinstance(data, dict) else None
        if isinstance(first_value, dict) and "timestamps" in first_value:
            return GroundTruthFormat.ACTIVITYNET
        if isinstance(data, dict) and "relevant_windows" in data:
            return GroundTruthFormat.QVHIGHLIGHTS
    raise EvalDataError(
        f"{source}: cannot tell the ground-truth format; expected Charades-STA lines, QVHighlights JSONL, "
        f"ActivityNet-Captions JSON or a CSV/JSON of video,query,start,end; pass the format explicitly "
        f"(--gt-format {'|'.join(GroundTruthFormat)})"
    )


def parse_ground_truth(text: str, *, format: GroundTruthFormat, source: str = "<text>") -> list[GroundTruthItem]:
    """Parse ground-truth text in a known format (see the module docstring); ``source`` names it in errors.

    Raises:
        EvalDataError: an entry is malformed, a qid repeats, or there are no queries at all.
    """
    if format is GroundTruthFormat.CHARADES:
        items = _parse_charades(text, source)
    elif format is GroundTruthFormat.QVHIGHLIGHTS:
        items = _parse_qvhighlights(text, source)
    elif format is GroundTruthFormat.ACTIVITYNET:
        items = _parse_activitynet(text, source)
    elif format is GroundTruthFormat.CSV:
        items = _parse_csv(text, source)
    else:
        items = _parse_plain_json(text, source)
    if not items:
        raise EvalDataError(f"{source}: no queries found in {format.value} ground truth")
    seen: set[str] = set()
    for item in items:
        if item.qid in seen:
            raise EvalDataError(f"{source}: query id {item.qid!r} appears more than once; expected unique qids")
        seen.add(item.qid)
    return items


# --- per-format parsers -------------------------------------------------------------------------------------


def _parse_charades(text: str, source: str) -> list[GroundTruthItem]:
    items = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        where = f"{source}:{line_no}"
        head, sep, sentence = line.partition("##")
        fields = head.split()
        if not sep or len(fields) != 3 or not sentence.strip():
            raise EvalDataError(f"{where}: expected 'VIDEO_ID START END##sentence', got {line[:80]!r}")
        video, start, end = fields
        window = _window((start, end), where)
        items.append(GroundTruthItem(f"{video}#{line_no}", video, sentence.strip(), (window,), None))
    return items


def _parse_qvhighlights(text: str, source: str) -> list[GroundTruthItem]:
    items = []
    for line_no, record in json_lines(text, source):
        where = f"{source}:{line_no}"
        qid = _required(record, "qid", where)
        if not isinstance(qid, str | int) or isinstance(qid, bool):
            raise EvalDataError(f"{where}: expected 'qid' to be a string or integer, got {qid!r}")
        windows = _windows(_required(record, "relevant_windows", where), where)
        items.append(
            GroundTruthItem(
                str(qid),
                _text(record, "vid", where),
                _text(record, "query", where),
                windows,
                _duration(record.get("duration"), where),
            )
        )
    return items


def _parse_activitynet(text: str, source: str) -> list[GroundTruthItem]:
    data = _json_document(text, source)
    if not isinstance(data, dict):
        raise EvalDataError(f"{source}: expected a JSON object of videos, got {type(data).__name__}")
    items = []
    for video, entry in data.items():
        where = f"{source}: video {video!r}"
        if not isinstance(entry, dict):
            raise EvalDataError(f"{where}: expected an object with duration, timestamps, sentences")
        timestamps = _required(entry, "timestamps", where)
        sentences = _required(entry, "sentences", where)
        if not isinstance(timestamps, list) or not isinstance(sentences, list) or len(timestamps) != len(sentences):
            raise EvalDataError(f"{where}: expected equal-length lists 'timestamps' and 'sentences'")
        duration = _duration(entry.get("duration"), where)
        for index, (pair, sentence) in enumerate(zip(timestamps, sentences, strict=True)):
            at = f"{where} sentence {index}"
            if not isinstance(sentence, str) or not sentence.strip():
                raise EvalDataError(f"{at}: expected a non-empty sentence, got {sentence!r}")
            items.append(
                GroundTruthItem(f"{video}#{index}", str(video), sentence.strip(), (_window(pair, at),), duration)
            )
    return items


def _parse_csv(text: str, source: str) -> list[GroundTruthItem]:
    reader = csv.DictReader(io.StringIO(text))
    columns = {name.strip().lower() for name in reader.fieldnames or ()}
    missing = {"video", "query"} - columns
    if missing or not ({"start", "start_s"} & columns and {"end", "end_s"} & columns):
        raise EvalDataError(
            f"{source}:1: expected a header with video, query, start, end (optional qid, duration), "
            f"got {sorted(columns)}"
        )
    records = []
    for row in reader:
        normalised = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        records.append((reader.line_num, {k: v for k, v in normalised.items() if v != ""}))
    return _from_records(records, source)


def _parse_plain_json(text: str, source: str) -> list[GroundTruthItem]:
    if text.lstrip().startswith("["):
        data = _json_document(text, source)
        if not isinstance(data, list):
            raise EvalDataError(f"{source}: expected a JSON list of records")
        records: list[tuple[int, Mapping[str, object]]] = []
        for index, record in enumerate(data):
            if not isinstance(record, dict):
                raise EvalDataError(f"{source}: record {index}: expected an object, got {type(record).__name__}")
            records.append((index, record))
        return _from_records(records, source, unit="record")
    return _from_records(list(json_lines(text, source)), source)


def _from_records(
    records: Sequence[tuple[int, Mapping[str, object]]], source: str, *, unit: str = "line"
) -> list[GroundTruthItem]:
    """Plain (video, query, start, end) records; rows with the same explicit qid are merged into one query."""
    by_qid: dict[str, GroundTruthItem] = {}
    for number, record in records:
        where = f"{source}:{number}" if unit == "line" else f"{source}: record {number}"
        video = _text(record, "video", where)
        query = _text(record, "query", where)
        if "windows" in record:
            windows = _windows(record["windows"], where)
        else:
            start = record.get("start", record.get("start_s"))
            end = record.get("end", record.get("end_s"))
            windows = (_window((start, end), where),)
        duration = _duration(record.get("duration", record.get("duration_s")), where)
        qid_value = record.get("qid")
        qid = f"{video}#{number}" if qid_value is None else str(qid_value)
        previous = by_qid.get(qid)
        if previous is None:
            by_qid[qid] = GroundTruthItem(qid, video, query, windows, duration)
        elif (previous.video, previous.query) != (video, query):
            raise EvalDataError(
                f"{where}: qid {qid!r} already used for video {previous.video!r} query {previous.query!r}; "
                f"rows sharing a qid must share video and query"
            )
        else:
            by_qid[qid] = GroundTruthItem(qid, video, query, previous.windows + windows, previous.duration_s)
    return list(by_qid.values())


# --- small validators ---------------------------------------------------------------------------------------


def _isjson_lines(text: str) -> bool:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or not all(line.startswith("{") and line.endswith("}") for line in lines[:2]):
        return False
    try:
        json.loads(lines[0])
    except json.JSONDecodeError:
        return False
    return True


def json_lines(text: str, source: str) -> Iterator[tuple[int, Mapping[str, object]]]:
    """The JSON objects of a JSONL text with their 1-based line numbers; blank lines skipped.

    Raises:
        EvalDataError: a line is not JSON, or not an object (the message names ``source`` and the line).
    """
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalDataError(f"{source}:{line_no}: invalid JSON: {exc.msg}") from exc
        if not isinstance(record, dict):
            raise EvalDataError(f"{source}:{line_no}: expected a JSON object, got {type(record).__name__}")
        yield line_no, record


def _json_document(text: str, source: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise EvalDataError(f"{source}:{exc.lineno}: invalid JSON: {exc.msg}") from exc


def _required(record: Mapping[str, object], key: str, where: str) -> object:
    if key not in record:
        raise EvalDataError(f"{where}: missing field {key!r}")
    return record[key]


def _text(record: Mapping[str, object], key: str, where: str) -> str:
    value = _required(record, key, where)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise EvalDataError(f"{where}: expected {key!r} to be a non-empty string, got {value!r}")
    return value.strip()


def _number(value: object, what: str, where: str) -> float:
    try:
        number = float(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise EvalDataError(f"{where}: expected {what} to be a finite number of seconds, got {value!r}")
    return number


def _window(pair: object, where: str) -> Window:
    if not isinstance(pair, list | tuple) or len(pair) < 2:
        raise EvalDataError(f"{where}: expected a [start, end] window, got {pair!r}")
    start = _number(pair[0], "start", where)
    end = _number(pair[1], "end", where)
    if start < 0 or end < start:
        raise EvalDataError(f"{where}: expected 0 <= start <= end, got start={start} end={end}")
    return (start, end)


def _windows(value: object, where: str) -> tuple[Window, ...]:
    if not isinstance(value, list) or not value:
        raise EvalDataError(f"{where}: expected a non-empty list of [start, end] windows, got {value!r}")
    return tuple(_window(pair, where) for pair in value)


def _duration(value: object, where: str) -> float | None:
    if value is None:
        return None
    duration = _number(value, "duration", where)
    if duration <= 0:
        raise EvalDataError(f"{where}: expected a positive duration, got {value!r}")
    return duration


VIDEO_EXTENSIONS = frozenset({".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts"})


def video_key(video: str) -> str:
    """The name a video is matched by: the last path part, without a known video extension.

    Only known video extensions are removed because ids may contain dots:
    ``"clips/RoripwjYFp8_360.0_510.0.mp4"`` and ``"RoripwjYFp8_360.0_510.0"`` both give
    ``"RoripwjYFp8_360.0_510.0"``.
    """
    name = video.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    suffix = Path(name).suffix
    return name[: -len(suffix)] if suffix.lower() in VIDEO_EXTENSIONS else name


# Straight, typographic and angle quotes, primes; all fold to one character when matching query texts.
QUOTE_CHARACTERS = "'\"\u2018\u2019\u201a\u201c\u201d\u201e\u2032\u2033\u00ab\u00bb\u2039\u203a"
_FOLD_QUOTES = str.maketrans(dict.fromkeys(QUOTE_CHARACTERS, "'"))


def query_key(query: str) -> str:
    """The form a query text is matched by: whitespace collapsed, case folded, every quote mark made ``'``.

    Quotes are folded because a query's quotes may come back changed (vidground once reported ``'`` as ``’``
    and ``"`` as ``”``; other tools write ``“…”`` or ``«…»``): ``'The "Big" dog's  BALL'`` and
    ``"the “big” dog’s ball"`` both give ``"the 'big' dog's ball"``.
    """
    return " ".join(query.split()).casefold().translate(_FOLD_QUOTES)
