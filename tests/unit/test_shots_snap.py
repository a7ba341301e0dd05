"""Snapping spans onto shot cuts (pure), and the snap knobs in the options layer."""

from __future__ import annotations

import pytest

from vidground.errors import ConfigError
from vidground.options import AnalysisOptions, SnapOptions, SnapTarget, merge_options
from vidground.settings import Settings
from vidground.shots import nearest_cut, snap_span
from vidground.video.windows import Window, end_on_cuts, plan_windows

CUTS = [1.2, 3.04, 5.48]


@pytest.mark.parametrize(
    ("span", "snapped"),
    [
        ((1.0, 2.9), (1.2, 3.04)),  # both ends within 1 s of a cut
        ((6.1, 8.0), (5.48, 8.0)),  # the end has no cut within 1 s: it stays
        ((4.9, 6.2), (5.48, 6.2)),  # both nearest 5.48: only the end that moves less goes there
        ((4.9, 6.0), (4.9, 5.48)),
        ((0.0, 0.1), (0.0, 0.1)),  # 1.2 is within 1 s of 0.1 but would reverse the span
        ((3.0, 3.1), (3.04, 3.1)),
    ],
)
def test_snap_span_moves_ends_onto_the_nearest_cut_within_the_tolerance(
    span: tuple[float, float], snapped: tuple[float, float]
) -> None:
    assert snap_span(*span, CUTS, tolerance_s=1.0) == pytest.approx(snapped)


def test_nearest_cut_respects_the_tolerance_and_an_empty_list() -> None:
    assert nearest_cut(2.5, CUTS, tolerance_s=1.0) == 3.04
    assert nearest_cut(2.5, CUTS, tolerance_s=0.5) is None
    assert nearest_cut(9.0, [], tolerance_s=5.0) is None
    assert nearest_cut(1.7, CUTS, tolerance_s=0.5) == 1.2  # exactly at the tolerance counts


def test_snap_options_hash_only_when_on_and_round_trip() -> None:
    off = AnalysisOptions()
    on = AnalysisOptions(snap=SnapOptions(SnapTarget.SHOTS, 0.5))
    assert "snap" in off.to_json() and off.to_json()["snap"] == {"target": "none", "tolerance_s": 1.0}
    assert on.params_hash() != off.params_hash()
    assert AnalysisOptions(snap=SnapOptions(tolerance_s=3.0)).params_hash() == off.params_hash()  # off: no effect
    assert AnalysisOptions.from_json(on.to_json()) == on


def test_merge_options_takes_snap_from_flags_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDGROUND_SNAP_TOLERANCE_S", "0.25")
    defaults = Settings().knob_values()
    assert merge_options(defaults, {}).snap == SnapOptions(SnapTarget.NONE, 0.25)
    assert merge_options(defaults, {"snap": "shots"}).snap == SnapOptions(SnapTarget.SHOTS, 0.25)
    with pytest.raises(ConfigError, match="--snap"):
        merge_options(defaults, {"snap": "scenes"})
    with pytest.raises(ConfigError, match="--snap-tolerance-s"):
        merge_options(defaults, {"snap_tolerance_s": -1})


def test_windows_end_on_a_cut_in_their_overlap_and_still_cover_the_range() -> None:
    windows = plan_windows(0.0, 1000.0, window_s=384.0, overlap_s=38.4)
    assert [(w.start_s, w.end_s) for w in windows] == [(0.0, 384.0), (308.0, 692.0), (616.0, 1000.0)]
    moved = end_on_cuts(windows, [100.0, 350.0, 690.0, 990.0], slack_s=38.4)
    assert [(w.start_s, w.end_s) for w in moved] == [(0.0, 350.0), (308.0, 690.0), (616.0, 1000.0)]
    assert end_on_cuts(windows, [300.0, 700.0], slack_s=38.4) == windows  # no cut in the last 38.4 s: unchanged
    narrow = end_on_cuts(windows, [310.0], slack_s=200.0)  # never before the next window's start (308)
    assert narrow[0] == Window(0.0, 310.0)
    assert end_on_cuts(windows, [307.0], slack_s=200.0)[0] == windows[0]


def test_the_table_says_which_spans_were_snapped_and_from_where() -> None:
    from tests.fakes import make_provenance
    from vidground.render import render_table
    from vidground.results import QueryResult, SpanResult, VideoResult

    spans = (SpanResult(1.2, 3.04, 0.9, 1.0, 2.9), SpanResult(5.0, 6.0, 0.5, 5.0, 6.0))
    answer = QueryResult("a door opens", True, True, spans, ("raw",), ())
    table = render_table(VideoResult("m.mp4", 10.0, 25.0, (answer,), make_provenance()))
    first, second = [line for line in table.splitlines() if line.strip()[:2] in ("1.", "2.")]
    assert "(snapped from 1.0s - 2.9s)" in first and "snapped" not in second
