"""Subtitles as timed text: SubRip and WebVTT parsing, its errors, and which files belong to a video."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from vidground.errors import SubtitleError, VidgroundError
from vidground.subtitles import SubtitleCue, SubtitleFile, read_subtitles, subtitles_beside


def write(tmp_path: Path, name: str, text: str, *, encoding: str = "utf-8", newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


def texts(cues: tuple[SubtitleCue, ...]) -> list[str]:
    return [c.text for c in cues]


# ------------------------------------------------------------------------------------------------------ SubRip

SRT = """1
00:00:01,000 --> 00:00:02,500
Hello there.

2
00:01:02,250 --> 01:00:03,040
Second cue,
on two lines.
"""


def test_srt_cues_with_times_in_seconds(tmp_path: Path) -> None:
    cues = read_subtitles(write(tmp_path, "a.srt", SRT))
    assert cues == (
        SubtitleCue(start_s=1.0, end_s=2.5, text="Hello there."),
        SubtitleCue(start_s=62.25, end_s=3603.04, text="Second cue, on two lines."),
    )


def test_srt_without_cue_numbers_and_with_dot_decimals(tmp_path: Path) -> None:
    path = write(tmp_path, "a.srt", "00:00:01.000 --> 00:00:02.000\nOne\n\n00:00:03.500 --> 00:00:04.000\nTwo\n")
    assert read_subtitles(path) == (SubtitleCue(1.0, 2.0, "One"), SubtitleCue(3.5, 4.0, "Two"))


def test_srt_crlf_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "a.srt"
    path.write_bytes(codecs.BOM_UTF8 + SRT.replace("\n", "\r\n").encode("utf-8"))
    assert texts(read_subtitles(path)) == ["Hello there.", "Second cue, on two lines."]


def test_srt_old_mac_line_endings(tmp_path: Path) -> None:
    assert texts(read_subtitles(write(tmp_path, "a.srt", SRT, newline="\r"))) == [
        "Hello there.",
        "Second cue, on two lines.",
    ]


def test_srt_tags_stripped_and_entities_unescaped(tmp_path: Path) -> None:
    srt = (
        "1\n00:00:01,000 --> 00:00:02,000\n"
        '{\\an8}<i>Fish</i> &amp; <b>chips</b>, <font color="#ffff00">please</font>\n'
        "&lt;i&gt; stays text, and so does a < b\n"
    )
    (cue,) = read_subtitles(write(tmp_path, "a.srt", srt))
    assert cue.text == "Fish & chips, please <i> stays text, and so does a < b"


def test_srt_coordinates_after_timing_are_ignored(tmp_path: Path) -> None:
    srt = "1\n00:00:01,000 --> 00:00:02,000 X1:40 X2:600 Y1:20 Y2:50\nPositioned\n"
    assert read_subtitles(write(tmp_path, "a.srt", srt)) == (SubtitleCue(1.0, 2.0, "Positioned"),)


def test_empty_cues_dropped(tmp_path: Path) -> None:
    srt = (
        "1\n00:00:01,000 --> 00:00:02,000\n<i></i>\n\n"
        "2\n00:00:03,000 --> 00:00:04,000\n\n"
        "3\n00:00:05,000 --> 00:00:06,000\nKept\n"
    )
    assert read_subtitles(write(tmp_path, "a.srt", srt)) == (SubtitleCue(5.0, 6.0, "Kept"),)


def test_cues_sorted_by_start(tmp_path: Path) -> None:
    srt = "1\n00:00:05,000 --> 00:00:06,000\nLate\n\n2\n00:00:01,000 --> 00:00:02,000\nEarly\n"
    assert texts(read_subtitles(write(tmp_path, "a.srt", srt))) == ["Early", "Late"]


def test_srt_blank_line_inside_cue_text_continues_the_cue(tmp_path: Path) -> None:
    srt = "1\n00:00:01,000 --> 00:00:02,000\nFirst part\n\nsecond part\n\n2\n00:00:03,000 --> 00:00:04,000\nNext\n"
    assert texts(read_subtitles(write(tmp_path, "a.srt", srt))) == ["First part second part", "Next"]


def test_multiple_blank_lines_and_trailing_whitespace(tmp_path: Path) -> None:
    srt = "\n\n1\n00:00:01,000 --> 00:00:02,000  \n  Spaced   out  \n\n\n\n2\n00:00:03,000 --> 00:00:04,000\nB"
    assert texts(read_subtitles(write(tmp_path, "a.srt", srt))) == ["Spaced out", "B"]


# ------------------------------------------------------------------------------------------------------ encodings


def test_cp1252_file_decodes(tmp_path: Path) -> None:
    path = write(tmp_path, "a.srt", "1\n00:00:01,000 --> 00:00:02,000\nCafé “quoted” – ok\n", encoding="cp1252")
    assert texts(read_subtitles(path)) == ["Café “quoted” – ok"]


def test_bytes_invalid_in_utf8_and_cp1252_fall_back_to_latin1(tmp_path: Path) -> None:
    path = tmp_path / "a.srt"
    # 0x81 is undefined in cp1252 and invalid as UTF-8 here; latin-1 maps it to U+0081.
    path.write_bytes(b"1\n00:00:01,000 --> 00:00:02,000\nna\xefve \x81\n")
    assert texts(read_subtitles(path)) == ["naïve \x81"]


def test_utf16_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "a.srt"
    path.write_bytes("1\n00:00:01,000 --> 00:00:02,000\nÜber\n".encode("utf-16"))
    assert texts(read_subtitles(path)) == ["Über"]


# ------------------------------------------------------------------------------------------------------ WebVTT

VTT = """WEBVTT - a title
Kind: captions
Language: en

NOTE this is a comment
with --> no cue in it... only a note

STYLE
::cue { color: yellow }

REGION
id:bill width:40%

intro
00:01.000 --> 00:02.500 align:start position:10%
<v Roger>Hi, <c.yellow>I'm</c> Roger</v>

00:00:03.000 --> 00:00:04.000 line:0
Words <00:00:03.500>appear <00:00:03.750>slowly
&amp; then stop

1:00:00.000 --> 1:00:01.000
An hour in
"""


def test_vtt_cues_settings_ids_and_blocks_skipped(tmp_path: Path) -> None:
    assert read_subtitles(write(tmp_path, "a.vtt", VTT)) == (
        SubtitleCue(1.0, 2.5, "Hi, I'm Roger"),
        SubtitleCue(3.0, 4.0, "Words appear slowly & then stop"),
        SubtitleCue(3600.0, 3601.0, "An hour in"),
    )


def test_vtt_detected_by_header_whatever_the_name(tmp_path: Path) -> None:
    path = write(tmp_path, "subs.txt", "WEBVTT\n\nNOTE skipped\n\n00:01.000 --> 00:02.000\nText\n")
    assert read_subtitles(path) == (SubtitleCue(1.0, 2.0, "Text"),)


def test_vtt_with_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "a.vtt"
    path.write_bytes(codecs.BOM_UTF8 + VTT.replace("\n", "\r\n").encode())
    assert len(read_subtitles(path)) == 3


def test_vtt_paragraph_without_timing_after_a_cue_is_skipped(tmp_path: Path) -> None:
    vtt = "WEBVTT\n\n00:01.000 --> 00:02.000\nOne\n\nstray text\n\n00:03.000 --> 00:04.000\nTwo\n"
    assert texts(read_subtitles(write(tmp_path, "a.vtt", vtt))) == ["One", "Two"]


# ------------------------------------------------------------------------------------------------------ errors


def error_of(path: Path) -> SubtitleError:
    with pytest.raises(SubtitleError) as caught:
        read_subtitles(path)
    assert isinstance(caught.value, VidgroundError)
    assert "\n" not in str(caught.value)
    return caught.value


def test_end_before_start_names_file_and_line(tmp_path: Path) -> None:
    srt = "1\n00:00:01,000 --> 00:00:02,000\nOk\n\n2\n00:00:05,000 --> 00:00:03,000\nBackwards\n"
    path = write(tmp_path, "bad.srt", srt)
    err = error_of(path)
    assert err.line == 6
    assert str(err) == (
        f"{path}: line 6: cue ends at 00:00:03,000 (3.000 s), before it starts at 00:00:05,000 (5.000 s); "
        "fix the timing line"
    )


def test_timestamp_that_does_not_parse(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.srt", "1\n00:00:01,000 --> 00:00:02,000\nOk\n\n2\n00:00:0x,000 --> 00:00:04,000\nX\n")
    err = error_of(path)
    assert err.line == 6
    assert "timestamp '00:00:0x,000' does not parse" in str(err)
    assert str(err).startswith(f"{path}: line 6: ")


def test_minutes_past_59_do_not_parse(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "bad.vtt", "WEBVTT\n\n00:75:00.000 --> 00:76:00.000\nX\n"))
    assert err.line == 3
    assert "'00:75:00.000' does not parse" in str(err)


def test_timing_line_without_end(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "bad.srt", "1\n00:00:01,000 -->\nX\n"))
    assert err.line == 2
    assert "timing line '00:00:01,000 -->' does not parse" in str(err)


def test_line_numbers_count_crlf_lines_once(tmp_path: Path) -> None:
    srt = "1\n00:00:01,000 --> 00:00:02,000\nOk\n\n2\n00:00:05,000 --> 00:00:03,000\nX\n"
    assert error_of(write(tmp_path, "bad.srt", srt, newline="\r\n")).line == 6


def test_not_a_subtitle_file(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.srt", "Just some notes\nabout a movie\n")
    err = error_of(path)
    assert err.line == 1
    assert "expected a cue timing" in str(err)
    assert "is this a SubRip (.srt) or WebVTT (.vtt) file?" in str(err)


def test_binary_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "video.srt"
    path.write_bytes(bytes(range(256)) * 4)
    error_of(path)


@pytest.mark.parametrize("content", ["", "\n\n  \n", "WEBVTT\n", "WEBVTT\n\nNOTE only a note\n"])
def test_no_cues(tmp_path: Path, content: str) -> None:
    path = write(tmp_path, "empty.vtt", content)
    err = error_of(path)
    assert err.line is None
    assert str(err).startswith(f"{path}: no subtitle cues found")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.srt"
    err = error_of(path)
    assert str(err).startswith(f"{path}: cannot read the subtitle file")
    assert "check the path" in str(err)


# ------------------------------------------------------------------------------------------------------ beside


def touch(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).write_text("")


def test_subtitles_beside_by_name(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "movie.mkv",
        "movie.srt",
        "movie.vtt",
        "movie.en.srt",
        "movie.eng.VTT",
        "movie.en.forced.srt",
        "movie.pt-BR.srt",
        "movie.en.hi.srt",
        "movie.hi.srt",
        "movie.sdh.SRT",
    )
    found = subtitles_beside(tmp_path / "movie.mkv")
    assert [(f.path.name, f.language) for f in found] == [
        ("movie.en.forced.srt", "en"),
        ("movie.en.hi.srt", "en"),
        ("movie.en.srt", "en"),
        ("movie.eng.VTT", "eng"),
        ("movie.hi.srt", "hi"),
        ("movie.pt-BR.srt", "pt-BR"),
        ("movie.sdh.SRT", None),
        ("movie.srt", None),
        ("movie.vtt", None),
    ]
    assert all(isinstance(f, SubtitleFile) and f.path.parent == tmp_path for f in found)


def test_subtitles_beside_never_another_videos(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "movie.mp4",
        "movie2.srt",
        "movie2.mp4",
        "movie_en.srt",
        "Movie.srt",
        "movie.directors.cut.srt",
        "movie.en.fr.srt",
        "movie.txt",
        "movie.srt.bak",
        "other.srt",
        "xmovie.srt",
    )
    (tmp_path / "movie.en.srt").mkdir()
    assert subtitles_beside(tmp_path / "movie.mp4") == ()
    touch(tmp_path, "movie.srt")
    assert subtitles_beside(tmp_path / "movie2.mp4") == (SubtitleFile(tmp_path / "movie2.srt", None),)


def test_subtitles_beside_a_video_whose_name_has_dots(tmp_path: Path) -> None:
    touch(tmp_path, "my.trip.2024.mp4", "my.trip.2024.de.srt", "my.trip.srt")
    assert subtitles_beside(tmp_path / "my.trip.2024.mp4") == (SubtitleFile(tmp_path / "my.trip.2024.de.srt", "de"),)


def test_subtitles_beside_missing_folder(tmp_path: Path) -> None:
    assert subtitles_beside(tmp_path / "nowhere" / "movie.mp4") == ()


def test_found_files_read_back(tmp_path: Path) -> None:
    write(tmp_path, "clip.en.srt", SRT)
    (found,) = subtitles_beside(tmp_path / "clip.mp4")
    assert texts(read_subtitles(found.path))[0] == "Hello there."
