"""Export for editors: OTIO markers and CMX 3600 EDL events open back in opentimelineio with the same times."""

from __future__ import annotations

import csv
import io

import opentimelineio as otio
import pytest

from vidground.export import ExportFormat, ExportWhat, Marker, VideoFacts, export, markers
from vidground.index.records import SegmentRecord, ShotRecord, Source

SEGMENTS = [
    SegmentRecord(Source.QUERY_ANSWER, 2.52, 4.0, query="a door opens", score=0.8, rank=1),
    SegmentRecord(Source.CAPTION, 0.0, 3.0, text="A man walks\nto the door."),
    SegmentRecord(Source.SPEECH, 6.1, 7.6, text="Please open the blue door."),
    SegmentRecord(Source.OCR, 1.0, 4.0, text="MARKET STREET STATION"),
]
SHOTS = [ShotRecord(0.0, 3.04, 0), ShotRecord(3.04, 65.5, 76)]


def test_markers_choose_kinds_and_label_them() -> None:
    everything = markers(SEGMENTS, SHOTS, ExportWhat.ALL)
    assert [m.kind for m in everything] == ["captions", "shots", "ocr", "answers", "shots", "speech"]
    assert [m.label for m in markers(SEGMENTS, SHOTS, ExportWhat.ANSWERS)] == ["a door opens #1"]
    assert [m.label for m in markers(SEGMENTS, SHOTS, ExportWhat.SHOTS)] == ["Shot 1", "Shot 2"]
    assert markers(SEGMENTS, SHOTS, ExportWhat.CAPTIONS)[0].label == "A man walks to the door."


@pytest.mark.parametrize("fps", [25.0, 30000 / 1001])
def test_otio_markers_open_back_with_the_same_times(fps: float) -> None:
    moments = markers(SEGMENTS, SHOTS)
    text = export(moments, VideoFacts("/videos/movie.mp4", 65.5, fps), ExportFormat.OTIO)
    timeline = otio.adapters.read_from_string(text, "otio_json")
    (clip,) = timeline.tracks[0]
    assert clip.media_reference.target_url == "file:///videos/movie.mp4"
    assert clip.source_range.duration.rate == pytest.approx(fps)
    back = clip.markers
    assert [m.name for m in back] == [m.label for m in moments]
    half_frame = 0.5 / fps + 1e-9
    for marker, moment in zip(back, moments, strict=True):
        assert marker.marked_range.start_time.rate == pytest.approx(fps)
        assert marker.marked_range.start_time.to_seconds() == pytest.approx(moment.start_s, abs=half_frame)
        assert marker.marked_range.end_time_exclusive().to_seconds() == pytest.approx(moment.end_s, abs=2 * half_frame)
        assert marker.metadata["vidground"]["kind"] == str(moment.kind)
    assert back[3].color == "RED" and back[1].color == "BLUE"  # the answer; the first shot


@pytest.mark.parametrize(("fps", "separator"), [(25.0, ":"), (30000 / 1001, ";")])
def test_edl_events_open_back_with_the_same_times_and_drop_frame_where_it_applies(fps: float, separator: str) -> None:
    moments = markers(SEGMENTS, SHOTS)
    text = export(moments, VideoFacts("/videos/movie.mp4", 65.5, fps), ExportFormat.EDL)
    assert text.splitlines()[0].startswith("TITLE:")
    event = next(line for line in text.splitlines() if line.startswith("001"))
    assert event.split()[-1][8] == separator  # HH:MM:SS;FF drop-frame at 29.97, HH:MM:SS:FF at 25
    timeline = otio.adapters.read_from_string(text, "cmx_3600", rate=fps)
    clips = list(timeline.tracks[0])
    assert len(clips) == len(moments)
    for clip, moment in zip(clips, moments, strict=True):
        start_s = clip.source_range.start_time.to_seconds()
        assert start_s == pytest.approx(moment.start_s, abs=0.5 / fps + 1e-9)
        assert (start_s + clip.source_range.duration.to_seconds()) == pytest.approx(moment.end_s, abs=1.0 / fps + 1e-9)


def test_srt_vtt_csv_have_one_entry_per_moment() -> None:
    moments = [Marker(1.0, 2.5, ExportWhat.SPEECH, "hello --> there"), Marker(61.0, 62.0, ExportWhat.SHOTS, "Shot 2")]
    video = VideoFacts("m.mp4", 70.0, 25.0)
    srt = export(moments, video, ExportFormat.SRT)
    assert "1\n00:00:01,000 --> 00:00:02,500\n[speech] hello -> there\n" in srt
    assert "00:01:01.000 --> 00:01:02.000\n[shots] Shot 2" in export(moments, video, ExportFormat.VTT)
    rows = list(csv.DictReader(io.StringIO(export(moments, video, ExportFormat.CSV))))
    assert [(r["kind"], r["start_tc"], r["end_tc"]) for r in rows] == [
        ("speech", "00:00:01:00", "00:00:02:12"),
        ("shots", "00:01:01:00", "00:01:02:00"),
    ]
