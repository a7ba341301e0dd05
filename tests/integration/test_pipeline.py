"""The grounding and captioning pipeline end to end on real small videos, with a scripted model.

The fake runner (``tests.fakes.ScriptedRunner``) answers like Qwen2.5-VL does: in seconds of *model time*,
counted from the first sampled frame at the plan's ``sample_fps`` clock. The scripted answers for windows are
computed from the plan each call was given, so the tests check that vidground puts them back at the right
absolute times.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from tests.fakes import ScriptedRunner, scripted_generation
from tests.media import make_video
from vidground.errors import ConfigError, SamplingError
from vidground.model.base import Generation
from vidground.model.prompts import NOT_FOUND_SENTENCE, PROMPT_VERSION
from vidground.options import AnalysisOptions, DecodeOptions, GenerateOptions, ResizeMode, SamplingOptions
from vidground.pipeline import (
    caption,
    caption_and_locate,
    caption_encoded,
    encode,
    locate,
    locate_encoded,
    needs_windows,
)
from vidground.results import CaptionResult, VideoResult
from vidground.timeline import FramePlan
from vidground.video.probe import probe

CFR_FPS = 4.0


@pytest.fixture(scope="module")
def short_video(tmp_path_factory):
    """100 s at 4 fps, 64x48: one call at the default 2 fps (200 frames)."""
    return make_video(
        tmp_path_factory.mktemp("short") / "short.mp4",
        width=64,
        height=48,
        fps=CFR_FPS,
        n_frames=400,
        preset="ultrafast",
    )


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    """60 s at 5 fps: with max_frames=16 at 2 fps one call covers 8 s, so it needs windows."""
    return make_video(
        tmp_path_factory.mktemp("long") / "long.mp4",
        width=64,
        height=48,
        fps=5.0,
        n_frames=300,
        preset="ultrafast",
    )


@pytest.fixture(scope="module")
def vfr_video(tmp_path_factory):
    return make_video(
        tmp_path_factory.mktemp("vfr") / "vfr.mkv",
        width=64,
        height=48,
        fps=10.0,
        n_frames=120,
        vfr=True,
        preset="ultrafast",
    )


LONG = SamplingOptions(fps=2.0, max_frames=16)
# The reference resize is exact but slow; pixels do not matter to a scripted model.
FAST = AnalysisOptions(decoding=DecodeOptions(resize=ResizeMode.FAST))


def fast(sampling: SamplingOptions) -> AnalysisOptions:
    return replace(FAST, sampling=sampling)


def to_model_s(time_s: float, plan: FramePlan) -> float:
    """Video seconds -> the model time a perfect model would say for this plan (clipped to what it saw)."""
    times = plan.times_s
    spacing = (times[-1] - times[0]) / (len(times) - 1)
    if time_s <= times[0]:
        position = 0.0
    elif time_s >= times[-1]:
        position = min(len(times) - 1 + (time_s - times[-1]) / spacing, float(len(times)))
    else:
        i = max(k for k, t in enumerate(times) if t <= time_s)
        position = i + (time_s - times[i]) / (times[i + 1] - times[i])
    return position / plan.sample_fps


def clip_end_s(plan: FramePlan) -> float:
    times = plan.times_s
    return times[-1] + (times[-1] - times[0]) / (len(times) - 1)


def grounding_responder(events: dict[str, tuple[float, float]]):
    """Answers each prompt about the query it quotes, with the part of its event the plan's frames show."""

    def respond(prompt: str, plan: FramePlan) -> str:
        query = next(q for q in events if f"'{q}'" in prompt)
        start_s, end_s = events[query]
        seen_start, seen_end = max(start_s, plan.times_s[0]), min(end_s, clip_end_s(plan))
        if seen_end <= seen_start:
            return NOT_FOUND_SENTENCE
        start_model_s, end_model_s = to_model_s(seen_start, plan), to_model_s(seen_end, plan)
        return f"The given query happens in {start_model_s:.1f} - {end_model_s:.1f} seconds."

    return respond


# -- short videos: one call
# ------------------------------------------------------------------------------------


def test_cookbook_answer_maps_to_video_seconds(short_video):
    runner = ScriptedRunner(answers=["The given query happens in 64.0 - 72.0 seconds."])
    result = locate(short_video, ["seasoning the steak"], runner=runner, options=FAST)
    (answer,) = result.results
    assert answer.found is True
    (span,) = answer.spans
    # 200 of 400 frames: sample_fps = 200 / 400 * 4 = 2.0, but the frames are round(linspace(0, 399, 200)),
    # one
    # every 399/199 = 2.005 source frames. Model 64.0 s is sampled frame 128 = source frame round(256.64) =
    # 257,
    # shown at 257 / 4 = 64.25 s; model 72.0 s is sampled frame 144 = source frame 289 = 72.25 s.
    assert span.start_s == pytest.approx(64.25, abs=1e-6)
    assert span.end_s == pytest.approx(72.25, abs=1e-6)
    assert span.score == pytest.approx(0.95)
    assert answer.raw == ("The given query happens in 64.0 - 72.0 seconds.",)
    assert answer.issues == ()


def test_several_queries_share_one_encoding_and_one_generate_call(short_video):
    runner = ScriptedRunner(
        answers=[
            "The given query happens in 10.0 - 12.0 seconds.",
            NOT_FOUND_SENTENCE,
            "The given query happens in 80.5 - 90.0 seconds.",
        ]
    )
    result = locate(short_video, ["a", "b", "c"], runner=runner, options=FAST)
    assert runner.n_encodes == 1
    assert runner.n_generates == 1
    assert len(runner.prompts[0]) == 3
    assert [r.query for r in result.results] == ["a", "b", "c"]
    assert [r.found for r in result.results] == [True, False, True]
    assert result.results[2].spans[0].start_s == pytest.approx(80.5, abs=0.3)


def test_encode_once_then_ask_twice(short_video):
    runner = ScriptedRunner(answers=["happens in 1.0 - 2.0 seconds", "happens in 3.0 - 4.0 seconds"])
    clip = encode(short_video, runner=runner, options=FAST)
    first = locate_encoded(clip, ["x"], runner=runner)
    second = locate_encoded(clip, ["y"], runner=runner)
    assert runner.n_encodes == 1
    assert first.results[0].spans[0].start_s == pytest.approx(1.0)
    assert second.results[0].spans[0].start_s == pytest.approx(3.0)


def test_not_found_is_explicit_and_not_an_issue(short_video):
    runner = ScriptedRunner(answers=[NOT_FOUND_SENTENCE])
    (answer,) = locate(short_video, ["a unicorn"], runner=runner, options=FAST).results
    assert answer.found is False
    assert answer.parsed is True  # understood: the model said it does not occur
    assert answer.spans == ()
    assert answer.issues == ()
    assert answer.raw == (NOT_FOUND_SENTENCE,)


@pytest.mark.parametrize("text", ["```json\n[]\n```", "[]", " []\n"])
def test_empty_json_list_is_understood_as_nothing_found(short_video, text):
    (answer,) = locate(short_video, ["x"], runner=ScriptedRunner(answers=[text]), options=FAST).results
    assert answer.found is False
    assert answer.parsed is True
    assert answer.issues == ()
    empty = caption(short_video, runner=ScriptedRunner(answers=[text]), options=FAST)
    assert empty.captions == ()
    assert empty.issues == ()


def test_score_reads_the_tokens_of_the_parsed_times(short_video):
    # The "2" of "2 people" is unsure; the span's own "2.0" is not. A second search of the text for the value 2
    # would find the first "2".
    text = "2 people wave; the given query happens in 2.0 - 4.0 seconds."
    tokens = scripted_generation(text).tokens
    logprobs = tuple(math.log(0.1 if i == 0 else 0.8) for i in range(len(tokens)))
    gen = Generation(text=text, tokens=tokens, token_logprobs=logprobs, n_prompt_tokens=50)
    (answer,) = locate(short_video, ["x"], runner=ScriptedRunner(answers=[gen]), options=FAST).results
    (span,) = answer.spans
    assert span.score == pytest.approx(0.8)


@pytest.mark.parametrize(
    ("text", "issue_word"),
    [
        ("I am not sure what you mean.", "unreadable"),
        ("", "empty"),
        ("The event is somewhere in the middle of the video.", "unreadable"),
    ],
)
def test_unreadable_answers_are_kept_raw_with_an_issue(short_video, text, issue_word):
    (answer,) = locate(short_video, ["x"], runner=ScriptedRunner(answers=[text]), options=FAST).results
    assert answer.found is False
    assert answer.parsed is False  # counted as a parse failure by `vidground eval`
    assert answer.spans == ()
    assert answer.raw == (text,)
    assert any(issue_word in line for line in answer.issues)


def test_span_past_the_end_is_clamped_with_an_issue(short_video):
    runner = ScriptedRunner(answers=["The given query happens in 90.0 - 130.0 seconds."])
    (answer,) = locate(short_video, ["x"], runner=runner, options=FAST).results
    duration_s = probe(short_video).duration_s
    (span,) = answer.spans
    assert span.start_s == pytest.approx(90.0, abs=0.3)
    assert span.end_s == pytest.approx(duration_s)
    assert any("clamped" in line for line in answer.issues)


def test_span_wholly_past_the_end_is_dropped_visibly(short_video):
    runner = ScriptedRunner(answers=["The given query happens in 150.0 - 160.0 seconds."])
    (answer,) = locate(short_video, ["x"], runner=runner, options=FAST).results
    assert answer.found is False
    assert any("outside the video" in line for line in answer.issues)


def test_reversed_span_is_repaired_visibly(short_video):
    runner = ScriptedRunner(answers=["The given query happens in 72.0 - 64.0 seconds."])
    (answer,) = locate(short_video, ["x"], runner=runner, options=FAST).results
    assert (answer.spans[0].start_s, answer.spans[0].end_s) == pytest.approx((64.25, 72.25))
    assert any("reversed" in line for line in answer.issues)


def test_recurring_event_gives_several_spans_ranked_by_score(short_video):
    text = "The given query happens in 10.0 - 12.0 seconds and 50.0 - 55.0 seconds."
    low_first = scripted_generation(text, prob=0.9)
    split = text.index("50.0")
    offsets = [sum(len(t) for t in low_first.tokens[:i]) for i in range(len(low_first.tokens))]
    logprobs = tuple(-0.05 if at >= split else -1.0 for at in offsets)
    gen = Generation(text=text, tokens=low_first.tokens, token_logprobs=logprobs, n_prompt_tokens=50)
    (answer,) = locate(short_video, ["x"], runner=ScriptedRunner(answers=[gen]), options=FAST).results
    assert [(round(s.start_s), round(s.end_s)) for s in answer.spans] == [(50, 55), (10, 12)]
    assert answer.spans[0].score > answer.spans[1].score


def test_clip_range_offsets_the_answer(short_video):
    runner = ScriptedRunner(answers=["The given query happens in 2.0 - 4.0 seconds."])
    result = locate(
        short_video,
        ["x"],
        runner=runner,
        options=fast(SamplingOptions(video_start=40.0, video_end=60.0)),
    )
    (span,) = result.results[0].spans
    assert (span.start_s, span.end_s) == pytest.approx((42.0, 44.0), abs=0.1)
    assert runner.encoded_plans[0].start_s == pytest.approx(40.0)


def test_vfr_answers_map_through_the_real_frame_times(vfr_video):
    info = probe(vfr_video)
    runner = ScriptedRunner(answers=["The given query happens in 0.0 - 1.0 seconds."])
    locate(vfr_video, ["x"], runner=runner, options=FAST)
    plan = runner.encoded_plans[0]
    # On VFR sample_fps is frames per real second of the range, rarely whole: answer sampled frame k's model time.
    k = 2
    runner = ScriptedRunner(answers=[f"The given query happens in 0.0 - {k / plan.sample_fps:.4f} seconds."])
    (answer,) = locate(vfr_video, ["x"], runner=runner, options=FAST).results
    expected = info.frame_times_s[plan.frames[k].index]
    assert answer.spans[0].end_s == pytest.approx(expected, abs=1e-3)
    assert abs(expected - k / plan.sample_fps) > 0.01  # the PTS, not the nominal clock


def test_result_json_shape_and_provenance(short_video):
    runner = ScriptedRunner(answers=["The given query happens in 1.0 - 2.5 seconds."])
    result = locate(short_video, ["x"], runner=runner, options=FAST)
    data = result.to_json()
    json.dumps(data)  # plain JSON values only
    assert list(data) == ["video", "duration_s", "fps", "results", "provenance"]
    (query_result,) = data["results"]
    assert list(query_result) == ["query", "found", "parsed", "spans", "raw", "issues"]
    assert list(query_result["spans"][0]) == ["start_s", "end_s", "score"]  # no display strings in results
    assert VideoResult.from_json(data) == result
    prov = data["provenance"]
    assert prov["task"] == "locate"
    assert prov["model_id"] == runner.model_id
    assert (prov["device"], prov["dtype"], prov["attn_implementation"]) == ("cpu", "float32", "eager")
    assert prov["prompt_version"] == PROMPT_VERSION
    assert prov["options"] == FAST.to_json()
    assert prov["params_hash"] == FAST.params_hash()
    assert prov["batch_size"] == 8
    assert prov["n_frames"] == 200
    assert prov["frame_times_s"] == runner.encoded_plans[0].times_s
    assert prov["n_tokens"] == runner.encoded_plans[0].num_tokens
    assert prov["sample_fps"] == pytest.approx(2.0)
    assert (prov["start_s"], prov["end_s"]) == (0.0, pytest.approx(99.75))
    assert prov["windows"] == []
    assert set(prov["timings_s"]) == {"probe", "decode", "encode", "generate"}
    assert all(seconds >= 0 for seconds in prov["timings_s"].values())


def test_generation_knobs_reach_the_runner(short_video):
    runner = ScriptedRunner(answers=["happens in 1.0 - 2.0 seconds", "[]"])
    options = replace(FAST, generation=GenerateOptions(max_new_tokens=64))
    locate(short_video, ["x"], runner=runner, options=options)
    caption(short_video, runner=runner, options=FAST)
    assert runner.max_new_tokens == [64, 1024]  # explicit cap for locate; caption's own default


def test_reported_query_is_what_the_user_typed(short_video):
    runner = ScriptedRunner(answers=["happens in 1.0 - 2.0 seconds"])
    typed = 'the dog\'s "ball"\n  rolls'
    (answer,) = locate(short_video, [typed], runner=runner, options=FAST).results
    assert answer.query == typed
    assert "dog\u2019s \u201dball\u201d rolls" in runner.prompts[0][0]  # cleaned text in the prompt only


def test_an_existing_probe_is_used_as_given(short_video, monkeypatch):
    video = probe(short_video)
    import vidground.pipeline as pipeline_module

    monkeypatch.setattr(pipeline_module, "probe", lambda path: pytest.fail("probed again"))
    runner = ScriptedRunner(answers=["happens in 1.0 - 2.0 seconds", "[]"])
    result = locate(short_video, ["x"], runner=runner, options=FAST, video=video)
    assert result.results[0].found
    caption(short_video, runner=runner, options=FAST, video=video)
    assert "probe" not in result.provenance.timings_s


def test_caption_encoded_reuses_the_clip(short_video):
    answer = '[{"start_time": 2.0, "end_time": 4.0, "description": "A bar moves."}]'
    runner = ScriptedRunner(answers=["happens in 1.0 - 2.0 seconds", answer])
    clip = encode(short_video, runner=runner, options=FAST)
    locate_encoded(clip, ["x"], runner=runner)
    result = caption_encoded(clip, runner=runner)
    assert runner.n_encodes == 1
    assert [(c.start_s, c.text) for c in result.captions] == [(pytest.approx(2.0, abs=0.1), "A bar moves.")]
    assert result.provenance.task == "caption"
    assert CaptionResult.from_json(result.to_json()) == result


def test_needs_windows_and_encode_refuses_a_long_video(long_video, short_video):
    assert needs_windows(probe(long_video), fast(LONG)) is True
    assert needs_windows(probe(short_video), FAST) is False
    assert needs_windows(probe(long_video), fast(SamplingOptions(nframes=16))) is False
    runner = ScriptedRunner()
    with pytest.raises(SamplingError, match=r"use locate\(\) or caption\(\)"):
        encode(long_video, runner=runner, options=fast(LONG))
    assert runner.n_encodes == 0


def test_progress_reports_each_stage(short_video):
    seen: list[tuple[str, int, int]] = []
    runner = ScriptedRunner(answers=["happens in 1.0 - 2.0 seconds", NOT_FOUND_SENTENCE])
    locate(short_video, ["x", "y"], runner=runner, options=FAST, on_progress=lambda *a: seen.append(a))
    stages = {s for s, _, _ in seen}
    assert stages == {"decode", "encode", "generate"}
    assert ("decode", 200, 200) in seen
    assert ("generate", 2, 2) in seen


def test_queries_are_checked_before_any_work(short_video):
    runner = ScriptedRunner()
    with pytest.raises(ConfigError):
        locate(short_video, [], runner=runner, options=FAST)
    with pytest.raises(ConfigError):
        locate(short_video, ["ok", "  "], runner=runner, options=FAST)
    assert runner.n_encodes == 0


def test_caption_reads_the_cookbook_json(short_video):
    answer = """```json
[
  {"start_time": "00:23.90", "end_time": "01:35.60", "description": "A person seasons a steak."},
  {"start_time": "00:02.00", "end_time": "00:10.50", "description": "The pan heats up."}
]
```"""
    result = caption(short_video, runner=ScriptedRunner(answers=[answer]), options=FAST)
    assert [(c.start_s, c.end_s, c.text) for c in result.captions] == [
        (pytest.approx(2.0), pytest.approx(10.5), "The pan heats up."),
        (pytest.approx(23.9, abs=0.3), pytest.approx(95.6, abs=0.3), "A person seasons a steak."),
    ]
    assert result.raw == (answer,)
    data = result.to_json()
    assert list(data["captions"][0]) == ["start_s", "end_s", "text"]
    assert CaptionResult.from_json(data) == result


# -- long videos: coarse pass, windows, merging
# ----------------------------------------------------------------


def test_long_video_span_across_a_window_border_comes_out_once(long_video):
    events = {"person opens door": (41.5, 45.5), "a unicorn": (-10.0, -5.0)}
    runner = ScriptedRunner(respond=grounding_responder(events))
    result = locate(long_video, list(events), runner=runner, options=fast(LONG))

    coarse, *windows = runner.encoded_plans
    assert len(coarse.frames) == 16 and coarse.sample_fps < 1.0  # the whole minute, thinned to fit
    assert len(windows) >= 2
    assert all(plan.sample_fps == pytest.approx(2.0, rel=0.15) for plan in windows)  # full target fps
    assert all(plan.start_s >= 20.0 for plan in windows)  # only around the candidate, not the whole video
    # the event is cut by at least one window border
    assert any(plan.start_s < 41.5 < plan.end_s < 45.5 for plan in windows)

    door, unicorn = result.results
    assert door.found is True
    (span,) = door.spans
    assert span.start_s == pytest.approx(41.5, abs=0.2)
    assert span.end_s == pytest.approx(45.5, abs=0.2)
    assert unicorn.found is False and unicorn.spans == ()
    assert unicorn.raw == (NOT_FOUND_SENTENCE,)
    # "not found" on a long video rests on the thinned coarse pass alone, and the result says so
    assert any("found no candidate; no window was re-grounded" in line for line in unicorn.issues)
    assert not any("no candidate" in line for line in door.issues)
    assert len(door.raw) == 1 + sum("'person opens door'" in p for ps in runner.prompts[1:] for p in ps)
    prov = result.provenance.to_json()
    assert len(prov["windows"]) == len(windows)
    assert [p["kind"] for p in prov["passes"]] == ["coarse"] + ["window"] * len(windows)


def test_long_video_coarse_pass_fits_the_token_budget_like_a_window(long_video):
    # 48 tokens at 8 tokens a 16x28x28 frame: 6 frames (3 s at 2 fps) per call. The coarse pass over the minute
    # must fit one call too: 6 frames, not max_frames (120) squeezed to 28x28, which needs 60 tokens and raised.
    events = {"person opens door": (41.5, 45.5)}
    runner = ScriptedRunner(respond=grounding_responder(events))
    sampling = SamplingOptions(fps=2.0, max_tokens=48)
    result = locate(long_video, list(events), runner=runner, options=fast(sampling))

    coarse, *windows = runner.encoded_plans
    assert len(coarse.frames) == 6 and coarse.num_tokens <= 48
    assert (coarse.height, coarse.width) == (windows[0].height, windows[0].width)
    assert windows and all(plan.num_tokens <= 48 for plan in windows)
    (span,) = result.results[0].spans
    assert span.start_s == pytest.approx(41.5, abs=0.3)
    assert span.end_s == pytest.approx(45.5, abs=0.3)


def test_long_video_coarse_answer_past_the_clip_end_does_not_crash(long_video):
    # Range 0-30 s in 16 frames (sample_fps 0.53, pad 10 s): model 37.6 s maps to 39.84 s, past the range. Its
    # padded window used to be 29.84-30 s, one source frame, and planning it raised SamplingError.
    def respond(prompt: str, plan: FramePlan) -> str:
        if "may the described content occur" in prompt:
            return "The given query happens in 37.6 - 38.0 seconds."
        return NOT_FOUND_SENTENCE

    runner = ScriptedRunner(respond=respond)
    sampling = SamplingOptions(fps=2.0, max_frames=16, video_end=30.0)
    (answer,) = locate(long_video, ["x"], runner=runner, options=fast(sampling)).results
    assert answer.found is False
    assert runner.n_encodes == 1  # the coarse pass only: the candidate lies outside the analysed range
    assert any("after the sampled clip" in line for line in answer.issues)


def test_long_video_recurring_event_in_far_apart_windows(long_video):
    def respond(prompt: str, plan: FramePlan) -> str:
        parts = []
        for start_s, end_s in ((5.0, 7.0), (50.0, 53.0)):
            lo, hi = max(start_s, plan.times_s[0]), min(end_s, clip_end_s(plan))
            if hi > lo:
                parts.append(f"{to_model_s(lo, plan):.1f} - {to_model_s(hi, plan):.1f} seconds")
        return "The given query happens in " + " and ".join(parts) + "." if parts else NOT_FOUND_SENTENCE

    runner = ScriptedRunner(respond=respond)
    (answer,) = locate(long_video, ["x"], runner=runner, options=fast(LONG)).results
    assert sorted((round(s.start_s), round(s.end_s)) for s in answer.spans) == [(5, 7), (50, 53)]


def test_long_video_caption_windows_are_stitched_without_seam_duplicates(long_video):
    events = [
        (2.0, 7.0, "A person walks in."),
        (10.0, 25.0, "They cook for a long time."),
        (40.0, 44.0, "They leave."),
    ]

    def respond(prompt: str, plan: FramePlan) -> str:
        items = []
        for start_s, end_s, text in events:
            lo, hi = max(start_s, plan.times_s[0]), min(end_s, clip_end_s(plan))
            if hi > lo:
                a, b = to_model_s(lo, plan), to_model_s(hi, plan)
                items.append(
                    {
                        "start_time": f"{int(a // 60):02d}:{a % 60:05.2f}",
                        "end_time": f"{int(b // 60):02d}:{b % 60:05.2f}",
                        "description": text,
                    }
                )
        return "```json\n" + json.dumps(items, indent=2) + "\n```"

    runner = ScriptedRunner(respond=respond)
    result = caption(long_video, runner=runner, options=fast(LONG))
    assert runner.n_encodes >= 5  # the minute in overlapping 8 s windows
    assert [c.text for c in result.captions] == [text for _, _, text in events]
    for cap, (start_s, end_s, _) in zip(result.captions, events, strict=True):
        assert cap.start_s == pytest.approx(start_s, abs=0.2)
        assert cap.end_s == pytest.approx(end_s, abs=0.2)
    assert result.issues == ()
    assert len(result.raw) == runner.n_encodes


def test_a_damaged_file_is_analysed_on_its_readable_part_with_an_issue(broken_videos):
    damaged = broken_videos["truncated_99"]
    runner = ScriptedRunner(answers=["happens in 0.0 - 0.5 seconds", "[]"])
    (answer,) = locate(damaged, ["x"], runner=runner, options=FAST).results
    assert answer.found and answer.issues[0].startswith("damaged file: ")
    assert "only the readable part was analysed" in answer.issues[0]
    result = caption(damaged, runner=runner, options=FAST)
    assert result.issues[0].startswith("damaged file: ")
    assert max(runner.encoded_plans[0].times_s) <= probe(damaged).duration_s


def test_caption_and_locate_share_one_encoding_per_window(short_video, long_video):
    caption_answer = '[{"start_time": 2.0, "end_time": 4.0, "description": "A bar moves."}]'

    def respond(prompt: str, plan: FramePlan) -> str:
        return "happens in 1.0 - 2.0 seconds" if "'door'" in prompt else caption_answer

    runner = ScriptedRunner(respond=respond)
    captions, located = caption_and_locate(short_video, ["door"], runner=runner, options=FAST)
    assert runner.n_encodes == 1 and runner.n_generates == 2
    assert [c.text for c in captions.captions] == ["A bar moves."]
    assert located is not None and located.results[0].found and located.results[0].query == "door"
    assert captions.provenance.task == "caption" and located.provenance.task == "locate"
    assert [p.kind for p in captions.provenance.passes] == ["clip"]

    runner = ScriptedRunner(respond=respond)
    captions, located = caption_and_locate(long_video, ["door"], runner=runner, options=fast(LONG))
    n_windows = runner.n_encodes
    assert n_windows > 1 and runner.n_generates == 2 * n_windows  # captions + queries per encoding
    assert all(p.kind == "window" for p in captions.provenance.passes)
    assert located is not None and len(located.results[0].raw) == n_windows

    runner = ScriptedRunner(respond=respond)
    captions, located = caption_and_locate(short_video, [], runner=runner, options=FAST)
    assert located is None and runner.n_generates == 1
