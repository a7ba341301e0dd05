"""The one options layer: knobs defined once, bundled, hashed, merged from settings and overrides."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.fakes import make_provenance
from vidground.errors import ConfigError, SamplingError
from vidground.options import (
    KNOBS,
    AnalysisOptions,
    DecodeOptions,
    DecoderName,
    GenerateOptions,
    ResizeMode,
    SamplingOptions,
    Task,
    merge_options,
)
from vidground.results import (
    CaptionSpan,
    PassInfo,
    PassKind,
    Provenance,
    QueryResult,
    SpanResult,
    Stage,
)
from vidground.settings import Settings

CUSTOM = AnalysisOptions(
    sampling=SamplingOptions(fps=1.5, max_frames=64, max_pixels=200704, total_pixels=6422528, video_end=30.0),
    decoding=DecodeOptions(backend=DecoderName.DECORD, resize=ResizeMode.FAST, threads=4, resize_threads=2),
    generation=GenerateOptions(max_new_tokens=128, max_windows=5, batch_size=2),
    torch_threads=3,
)


def test_options_round_trip_through_json() -> None:
    for options in (AnalysisOptions(), CUSTOM):
        data = json.loads(json.dumps(options.to_json()))
        assert AnalysisOptions.from_json(data) == options


def test_params_hash_is_stable_and_keys_what_changes_a_result() -> None:
    assert AnalysisOptions().params_hash() == AnalysisOptions().params_hash()
    # A fixed value: the key the index stores must not change between runs, machines or Python versions.
    assert AnalysisOptions().params_hash() == Settings().options().params_hash()
    assert len(AnalysisOptions().params_hash()) == 64
    different = [
        AnalysisOptions(sampling=SamplingOptions(fps=1.0)),
        AnalysisOptions(sampling=SamplingOptions(video_start=5.0)),
        AnalysisOptions(decoding=DecodeOptions(resize=ResizeMode.FAST)),
        AnalysisOptions(generation=GenerateOptions(max_windows=4)),
        AnalysisOptions(generation=GenerateOptions(max_new_tokens=64)),
    ]
    hashes = {o.params_hash() for o in [AnalysisOptions(), *different]}
    assert len(hashes) == 1 + len(different)
    # Speed-only knobs do not make a different analysis.
    same = AnalysisOptions(
        decoding=DecodeOptions(threads=8, resize_threads=3),
        generation=GenerateOptions(batch_size=1),
        torch_threads=2,
    )
    assert same.params_hash() == AnalysisOptions().params_hash()


def test_an_explicit_budget_in_either_spelling_replaces_the_default() -> None:
    assert SamplingOptions().budget_tokens() == 24576
    assert SamplingOptions(total_pixels=90316800).budget_tokens() == 115200
    assert SamplingOptions(max_tokens=100000).budget_tokens() == 100000
    assert SamplingOptions(max_tokens=1000, total_pixels=90316800).budget_tokens() == 1000
    assert SamplingOptions(total_pixels=1000 * 784 + 5).budget_pixels() == 1000 * 784 + 5  # pixels kept as given


def test_merge_takes_overrides_over_settings_and_names_the_source() -> None:
    defaults = Settings().knob_values()
    merged = merge_options(defaults, {"nframes": 16, "decoder": "decord"})
    assert merged.sampling.nframes == 16 and merged.sampling.fps is None
    assert merged.decoding.backend is DecoderName.DECORD
    assert merged.generation == GenerateOptions()
    with pytest.raises(ConfigError, match="--fps: expected a number above 0"):
        merge_options(defaults, {"fps": -1.0})
    with pytest.raises(ConfigError, match="VIDGROUND_FPS: expected a finite number"):
        merge_options({**defaults, "fps": float("nan")}, {})
    with pytest.raises(ConfigError, match="unknown option"):
        merge_options(defaults, {"frames_per_second": 2})
    with pytest.raises(ConfigError, match="min_pixels must not exceed max_pixels"):
        merge_options(defaults, {"min_pixels": 5000, "max_pixels": 4000})
    # A rate given as a flag replaces a frame count from the environment, and the other way round.
    assert merge_options({**defaults, "nframes": 8}, {"fps": 1.0}).sampling.nframes is None
    assert merge_options({**defaults, "nframes": 8}, {}).sampling.fps is None


@pytest.mark.parametrize("name", sorted(n for n, k in KNOBS.items() if k.kind in (int, float)))
def test_settings_and_flags_share_each_knobs_bounds(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    knob = KNOBS[name]
    if name in ("start_s", "end_s"):
        pytest.skip("per video: no variable")
    edge = knob.gt if knob.gt is not None else knob.ge
    assert edge is not None
    inside = edge + 1 if knob.gt is not None else edge
    outside = edge if knob.gt is not None else edge - 1
    for value, ok in ((inside, True), (outside, False)):
        text = str(int(value)) if knob.kind is int else str(value)
        flag_ok = knob.problem(int(text) if knob.kind is int else float(text)) is None
        monkeypatch.setenv(knob.env, text)
        try:
            Settings()
            env_ok = True
        except ValueError:
            env_ok = False
        assert flag_ok == env_ok == ok, (name, text)


def test_bad_values_are_refused_by_each_stage() -> None:
    with pytest.raises(SamplingError, match="fps"):
        SamplingOptions(fps=float("inf"))
    with pytest.raises(ConfigError, match="decoder"):
        DecodeOptions(backend="ffmpeg")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="batch_size"):
        GenerateOptions(batch_size=0)
    with pytest.raises(ConfigError, match="resize_threads: expected at least 1, got 0"):
        DecodeOptions(resize_threads=0)
    # Options stored before the resize_threads knob existed read back with its default.
    assert AnalysisOptions.from_json({"decoding": {"threads": 3}}).decoding == DecodeOptions(threads=3)
    with pytest.raises(ConfigError, match="options"):
        AnalysisOptions.from_json({"sampling": {"frames": 3}})
    assert GenerateOptions().new_tokens_for(Task.LOCATE) == 256
    assert GenerateOptions().new_tokens_for(Task.CAPTION) == 1024


def test_every_result_value_round_trips() -> None:
    provenance = make_provenance(options=CUSTOM, timings_s={Stage.PROBE: 0.1, Stage.ENCODE: 2.0})
    assert Provenance.from_json(json.loads(json.dumps(provenance.to_json()))) == provenance
    for value in (
        SpanResult(1.0, 2.5, None),
        SpanResult(0.0, 0.0, 0.25),
        CaptionSpan(3.0, 4.0, "a caption"),
        PassInfo(PassKind.WINDOW, 10.0, 20.0, 2.0, 20, 300),
        QueryResult("q's", True, True, (SpanResult(1.0, 2.0, 0.5),), ("raw",), ("issue",)),
    ):
        assert type(value).from_json(json.loads(json.dumps(value.to_json()))) == value


def test_the_core_imports_neither_settings_nor_torch_for_options() -> None:
    code = (
        "import sys, vidground.options, vidground.results;"
        "assert 'torch' not in sys.modules, 'torch';"
        "import vidground.pipeline;"
        "assert 'vidground.settings' not in sys.modules, 'settings'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
