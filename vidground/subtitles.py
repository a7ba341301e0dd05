"""Subtitles as timed text: read SubRip (.srt) and WebVTT (.vtt) cues, and find the subtitle files beside a video.

Pure Python, no decoder: :func:`read_subtitles` turns a file into :class:`SubtitleCue` values (seconds as floats,
plain text) and :func:`subtitles_beside` lists the files a media player would pick up for a video by name.

What a cue looks like in each format, and what becomes of it::

    1                                        <- cue number (SRT) or identifier (VTT): optional, ignored
    00:01:02,500 --> 00:01:04,000            <- SRT: HH:MM:SS,mmm
    01:02.500 --> 01:04.000 align:start      <- VTT: [HH:]MM:SS.mmm, then cue settings (ignored)
    <v Roger>Hello &amp; <i>welcome</i>     <- tags stripped, entities unescaped
    back                                     <- lines joined with a space

gives ``SubtitleCue(start_s=62.5, end_s=64.0, text="Hello & welcome back")``.
"""

from __future__ import annotations

import codecs
import html
import re
from dataclasses import dataclass
from pathlib import Path

from vidground.errors import SubtitleError

SUBTITLE_SUFFIXES = (".srt", ".vtt")

# [HH:]MM:SS[,.]mmm — hours may be any number of digits; the fraction is decimal (",5" is half a second).
_TIMESTAMP = re.compile(r"(?:(?P<h>\d+):)?(?P<m>\d{1,2}):(?P<s>\d{1,2})(?:[,.](?P<frac>\d{1,3}))?")
# "start --> end", then optional cue settings (VTT "align:start position:10%", SRT "X1:40 X2:600 ...").
_TIMING = re.compile(r"^\s*(?P<start>\S+)\s*-->\s*(?P<end>\S+)(?:\s+.*)?$")
# Markup inside cue text: HTML-ish tags (<i>, </b>, <font color="red">, <v Roger>, <c.yellow>, <lang en>),
# VTT timestamp tags (<00:00:01.000>) and SSA override blocks ({\an8}). "a < b" is text, not a tag.
_MARKUP = re.compile(r"</?[A-Za-z][^<>]*>|<\d[\d:.]*>|\{\\[^{}]*\}")
_VTT_SKIPPED_BLOCKS = ("NOTE", "STYLE", "REGION")
# The name parts a player accepts between a video's stem and ".srt": a language tag (en, eng, pt-BR, zh_Hans)
# and flags. Anything else (movie.director.cut.srt) names another video.
# "hi" is Hindi where it comes first and "hearing impaired" after a language (movie.en.hi.srt).
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
_FLAGS = frozenset({"forced", "foreign", "sdh", "cc", "default"})


@dataclass(frozen=True)
class SubtitleCue:
    """One cue: shown from ``start_s`` to ``end_s`` (seconds from the start of the video), as plain text."""

    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class SubtitleFile:
    """A subtitle file that belongs to a video, with the language tag its name carries (``movie.en.srt`` -> "en")."""

    path: Path
    language: str | None


def read_subtitles(path: str | Path) -> tuple[SubtitleCue, ...]:
    """Read a SubRip or WebVTT file as cues sorted by start time.

    The format is WebVTT when the file starts with ``WEBVTT`` or is named ``*.vtt``, else SubRip. Text is UTF-8
    (with or without a byte-order mark; UTF-16 with one), else cp1252, else latin-1, so any bytes decode. Cues whose
    text is empty once tags are stripped are dropped. In SubRip, a paragraph without a timing line after a cue is
    more text of that cue (a blank line inside cue text); in WebVTT it is skipped, as the WebVTT parser does.

    Args:
        path: the subtitle file.

    Returns:
        The cues, sorted by ``(start_s, end_s)``; empty when every cue is empty.

    Raises:
        SubtitleError: the file cannot be read, holds no cue, does not start like SubRip or WebVTT, or has a
            timing line that does not parse or ends before it starts (the message names the line).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SubtitleError(path, f"cannot read the subtitle file ({exc.strerror or exc}); check the path") from exc
    text = _decode(data)
    blocks = _blocks(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    has_header = bool(blocks) and _is_webvtt_header(blocks[0][1][0])
    is_vtt = has_header or path.suffix.lower() == ".vtt"

    cues: list[_RawCue] = []
    for index, (first_line_no, block) in enumerate(blocks):
        if is_vtt and ((index == 0 and has_header) or _is_vtt_metadata_block(block)):
            continue
        timing_at = _timing_line_index(block)
        if timing_at is None:
            if not cues:
                raise SubtitleError(
                    path,
                    f"expected a cue timing like '00:00:01,000 --> 00:00:02,500', got {_shorten(block[0])!r}; "
                    "is this a SubRip (.srt) or WebVTT (.vtt) file?",
                    line=first_line_no,
                )
            if not is_vtt:
                cues[-1].lines.extend(block)
            continue
        line_no = first_line_no + timing_at
        start_s, end_s = _parse_timing(path, block[timing_at], line_no)
        cues.append(_RawCue(start_s, end_s, list(block[timing_at + 1 :])))

    if not cues:
        raise SubtitleError(
            path,
            "no subtitle cues found; expected SubRip or WebVTT cues like '00:00:01,000 --> 00:00:02,500'",
        )
    finished = [SubtitleCue(c.start_s, c.end_s, _clean_text(c.lines)) for c in cues]
    return tuple(sorted((c for c in finished if c.text), key=lambda c: (c.start_s, c.end_s)))


def subtitles_beside(video_path: str | Path) -> tuple[SubtitleFile, ...]:
    """The subtitle files in the video's folder that belong to it by name, as media players find them.

    ``movie.mkv`` owns ``movie.srt``, ``movie.vtt``, ``movie.en.srt``, ``movie.eng.VTT``, ``movie.pt-BR.srt`` and
    ``movie.en.forced.srt`` (the same stem, then an optional language tag and flags such as ``forced``/``sdh``/``cc``;
    extension in any case, stem exactly as the video's). It does not own ``movie2.srt``, ``Movie.srt`` or
    ``movie.directors.cut.srt``: those name other videos. "hi" is Hindi first (``movie.hi.srt``) and the
    hearing-impaired flag after a language (``movie.en.hi.srt``); two languages (``movie.en.fr.srt``) are not ours.

    Args:
        video_path: the video; only its name and folder are used (it need not exist).

    Returns:
        The files sorted by name, each with its language tag as written (``None`` without one). Empty when the
        folder does not exist or holds none.
    """
    video_path = Path(video_path)
    folder = video_path.parent
    stem = video_path.stem
    try:
        entries = list(folder.iterdir())
    except OSError:
        return ()
    found: list[SubtitleFile] = []
    for entry in entries:
        name = entry.name
        if not name.startswith(stem + ".") or entry.suffix.lower() not in SUBTITLE_SUFFIXES or entry == video_path:
            continue
        middle = name[len(stem) + 1 : -len(entry.suffix)]
        ours, language = _read_name_tags(middle.split(".") if middle else [])
        if ours and entry.is_file():
            found.append(SubtitleFile(path=entry, language=language))
    return tuple(sorted(found, key=lambda f: f.path.name))


# ---------------------------------------------------------------------------------------------------- internals


@dataclass
class _RawCue:
    start_s: float
    end_s: float
    lines: list[str]


def _decode(data: bytes) -> str:
    """Bytes to text: UTF-8 (BOM dropped), UTF-16 with a BOM, else cp1252, else latin-1 (which never fails)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    data = data.removeprefix(codecs.BOM_UTF8)
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _is_webvtt_header(line: str) -> bool:
    return line == "WEBVTT" or line.startswith(("WEBVTT ", "WEBVTT\t"))


def _blocks(lines: list[str]) -> list[tuple[int, list[str]]]:
    """Paragraphs separated by blank lines, each with the 1-based number of its first line."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(lines, start=1):
        if line.strip():
            if not current:
                start = number
            current.append(line)
        elif current:
            blocks.append((start, current))
            current = []
    if current:
        blocks.append((start, current))
    return blocks


def _is_vtt_metadata_block(block: list[str]) -> bool:
    """A NOTE / STYLE / REGION block (none of which may hold a timing line)."""
    first = block[0]
    return any(first == kind or first.startswith((kind + " ", kind + "\t")) for kind in _VTT_SKIPPED_BLOCKS)


def _timing_line_index(block: list[str]) -> int | None:
    """Where the timing line is: first, or second after a cue number / identifier; None without one."""
    for index in (0, 1):
        if index < len(block) and "-->" in block[index]:
            return index
    return None


def _parse_timing(path: Path, line: str, line_no: int) -> tuple[float, float]:
    match = _TIMING.match(line)
    if match is None:
        raise SubtitleError(
            path,
            f"timing line {_shorten(line)!r} does not parse; write it as '00:00:01,000 --> 00:00:02,500'",
            line=line_no,
        )
    start_s = _parse_timestamp(path, match["start"], line_no)
    end_s = _parse_timestamp(path, match["end"], line_no)
    if end_s < start_s:
        raise SubtitleError(
            path,
            f"cue ends at {match['end']} ({end_s:.3f} s), before it starts at {match['start']} ({start_s:.3f} s); "
            "fix the timing line",
            line=line_no,
        )
    return start_s, end_s


def _parse_timestamp(path: Path, value: str, line_no: int) -> float:
    """``"01:02:03,450"`` -> 3723.45 s, ``"02:03.5"`` -> 123.5 s; counted in whole milliseconds, then divided once."""
    match = _TIMESTAMP.fullmatch(value)
    if match is None or int(match["m"]) >= 60 or int(match["s"]) >= 60:
        raise SubtitleError(
            path,
            f"timestamp {value!r} does not parse; write it as HH:MM:SS,mmm (SubRip) or [HH:]MM:SS.mmm (WebVTT)",
            line=line_no,
        )
    hours = int(match["h"] or 0)
    frac = match["frac"] or ""
    millis = int(frac.ljust(3, "0")) if frac else 0
    total_ms = ((hours * 60 + int(match["m"])) * 60 + int(match["s"])) * 1000 + millis
    return total_ms / 1000


def _clean_text(lines: list[str]) -> str:
    """Cue text lines to one plain line: markup stripped, entities unescaped, whitespace collapsed."""
    joined = " ".join(_MARKUP.sub("", line) for line in lines)
    return " ".join(html.unescape(joined).split())


def _read_name_tags(parts: list[str]) -> tuple[bool, str | None]:
    """Whether the name parts between stem and extension are tags only (else another video's), and the language.

    ``["en", "forced"]`` -> (True, "en"); ``[]`` -> (True, None); ``["directors", "cut"]`` -> (False, None).
    """
    language: str | None = None
    for part in parts:
        if part.lower() in _FLAGS or (language is not None and part.lower() == "hi"):
            continue
        if language is None and _LANGUAGE_TAG.fullmatch(part):
            language = part
            continue
        return False, None
    return True, language


def _shorten(text: str, limit: int = 60) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
