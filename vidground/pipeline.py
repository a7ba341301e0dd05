"""Find when things happen in a video, or caption it with timestamps: the one file to read top to bottom.

Three calls, as in lighthouse::

    clip = encode("movie.mp4", runner=runner)  # probe, sample, decode, encode: the expensive part
    result = locate_encoded(clip, ["person opens door"], runner=runner)  # cheap, repeatable
    result = locate("movie.mp4", ["person opens door", "dog barks"], runner=runner)  # both; long videos too

Every knob comes in one :class:`~vidground.options.AnalysisOptions` value (sampling, decoding, generation) and is
recorded in the result's provenance with the model, device, timings per stage and what each model call saw.

The path of one ``locate`` call:

1. ``probe`` the file (frame times from the container), unless the caller has a probe already, and decide
   whether one model call can see the analysed range at the target fps within ``max_frames`` and the token
   budget (:func:`needs_windows`).
2. **Short video**: one frame plan, one decode, one ``encode_video``, one ``generate`` with every query's
   prompt (:func:`encode` + :func:`locate_encoded`).
3. **Long video** (spec 11.5), in four steps: a *coarse* call over the whole range, thinned to fit, asks where
   each query may happen (``_coarse_candidates``); the best candidates become windows, padded, joined and split
   to fit one call (``_windows_around``); each window is encoded once at the full target fps, asked the queries
   whose candidates lie in it, and freed before the next (``_ground_windows`` over ``_each_window``); the
   windows' spans are put on one timeline per query, pieces of one event cut by a border fused and duplicates
   suppressed (``_merge``).
4. Each answer is parsed once (``parse_spans``), scored from its token probabilities (``span_scores``), mapped
   from model time to video time through the plan's frame times and clamped to the video (``map_spans``),
   ranked. Anything odd in the answer is kept: the raw text always, and one line per problem in ``issues``.
5. With ``snap`` set to ``shots``, the video's shot cuts are found (``detect_shots``) and each span end moves to
   the nearest cut within the tolerance (``snap_to_shots``); the unsnapped times stay in the result.

``caption`` is the same with the dense caption prompt; long videos are covered by overlapping windows (the same
``_each_window`` loop) whose captions are stitched into one timeline (``stitch_captions``).

Progress is reported as ``on_progress(stage, done, total)`` with the :class:`~vidground.results.Stage` values
``decode``, ``encode`` and ``generate``. Queries are reported as the user wrote them; only the prompt gets the
cleaned text (``clean_query``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple, TypeVar

import vidground
from vidground.errors import ConfigError, InternalError, SamplingError
from vidground.model.base import EncodedVideo, Generation, VideoRunner
from vidground.model.prompts import (
    PROMPT_VERSION,
    candidate_prompt,
    caption_prompt,
    clean_query,
    grounding_prompt,
)
from vidground.options import DEFAULT_MIN_PIXELS, AnalysisOptions, SamplingOptions, SnapTarget, Task
from vidground.output.merge import (
    WindowSpans,
    map_spans,
    merge_window_spans,
    span_scores,
    stitch_captions,
    temporal_nms,
)
from vidground.output.spans import ParseOutcome, parse_spans
from vidground.results import (
    CaptionResult,
    CaptionSpan,
    PassInfo,
    PassKind,
    Provenance,
    QueryResult,
    SpanResult,
    Stage,
    VideoResult,
)
from vidground.shots import ShotList, ShotOptions, detect_shots, snap_span
from vidground.timeline import FramePlan, Span, VideoProbe
from vidground.video.decode import decode_frames
from vidground.video.probe import probe
from vidground.video.sampling import frame_range_s, plan_frames
from vidground.video.windows import Window, candidate_windows, end_on_cuts, max_window_s, plan_windows

logger = logging.getLogger(__name__)

StageProgress = Callable[[Stage, int, int], None]
T = TypeVar("T")

NMS_IOU = 0.5
CAPTION_OVERLAP = 0.1  # neighbouring caption windows share this fraction of a window


@dataclass(frozen=True, eq=False)
class EncodedClip:
    """A video (or part of one) as the model holds it: reuse it for any number of queries.

    ``plan`` is what the model saw (frame indices and times, size, ``sample_fps``); ``encoded`` is the
    runner's own; ``options`` are the knobs it was made with (its generation knobs apply to its answers).
    """

    path: str
    video: VideoProbe
    plan: FramePlan
    encoded: EncodedVideo
    options: AnalysisOptions
    backend: str
    timings_s: dict[Stage, float] = field(default_factory=dict)


def needs_windows(video: VideoProbe, options: AnalysisOptions | None = None) -> bool:
    """Whether one model call cannot see the analysed range of ``video`` at the target fps.

    Such a video is looked at in windows by :func:`locate` and :func:`caption`; :func:`encode` refuses it.
    Example: 30 min at 2 fps wants 3,600 frames, one call takes 768: True. A fixed ``nframes`` never needs
    windows.

    Raises:
        SamplingError: the time range or the caps do not fit the video.
    """
    return window_length_s(video, options or AnalysisOptions()) is not None


def encode(
    path: str | os.PathLike[str],
    *,
    runner: VideoRunner,
    options: AnalysisOptions | None = None,
    video: VideoProbe | None = None,
    on_progress: StageProgress | None = None,
) -> EncodedClip:
    """Probe, sample, decode and encode a video once (the expensive step), for one model call.

    Args:
        path: the video file.
        runner: the model runner that will answer questions about the clip.
        options: sampling (fps or frame count, caps, budget, start/end seconds) and decoding knobs.
        video: the file's probe if already made.
        on_progress: ``(stage, done, total)`` for the ``decode`` and ``encode`` stages.

    Raises:
        VideoDecodeError, DecoderBackendError: the file cannot be read.
        SamplingError: the options do not fit the video, or one call cannot see the range at the target fps
            (:func:`needs_windows`; :func:`locate` and :func:`caption` walk such videos in windows).
    """
    options = options or AnalysisOptions()
    clock = _Clock()
    video, window_s = _probed(path, video, options, clock)
    if window_s is not None:
        sampling = options.sampling
        raise SamplingError(
            f"{video.path}: one model call holds {window_s:.1f} s at {sampling.target_fps:g} fps (max_frames="
            f"{sampling.max_frames}, {sampling.budget_tokens()} tokens), less than the range asked for; use "
            "locate() or caption(), which look at it in windows, or lower fps, or give nframes"
        )
    return _encode(path, video, options, runner=runner, clock=clock, on_progress=on_progress, step=(0, 1))


def locate_encoded(
    clip: EncodedClip,
    queries: Sequence[str],
    *,
    runner: VideoRunner,
    on_progress: StageProgress | None = None,
) -> VideoResult:
    """Ask when each query happens in an encoded clip: one ``generate`` call for all queries.

    Args:
        clip: from :func:`encode`, made by the same ``runner``; its options' generation knobs apply.
        queries: what to look for, in plain words; results come back in this order, as written.
        on_progress: ``(stage, done, total)`` for the ``generate`` stage.

    Raises:
        ConfigError: no queries, or an empty or too long one.
    """
    prompts = _grounding_prompts(queries)
    clock = _Clock(dict(clip.timings_s))
    answers = _generate(
        runner, clip.encoded, prompts, options=clip.options, task=Task.LOCATE, clock=clock, on_progress=on_progress
    )
    results = []
    for query, answer in zip(queries, answers, strict=True):
        reading = _read_grounding(answer, clip.plan, duration_s=clip.video.duration_s)
        issues = list(reading.issues)
        ranked = _rank(reading.spans, issues)
        results.append(
            _query_result(query, ranked, parsed=reading.readable, raw=[answer.text], issues=issues, video=clip.video)
        )
    provenance = _provenance(Task.LOCATE, runner, clip.options, passes=[(PassKind.CLIP, clip.plan)], clock=clock)
    return VideoResult(
        video=clip.path,
        duration_s=clip.video.duration_s,
        fps=clip.video.fps,
        results=tuple(results),
        provenance=provenance,
    )


def locate(
    path: str | os.PathLike[str],
    queries: Sequence[str],
    *,
    runner: VideoRunner,
    options: AnalysisOptions | None = None,
    video: VideoProbe | None = None,
    on_progress: StageProgress | None = None,
) -> VideoResult:
    """Find when each query happens in a video; long videos go through a coarse pass and re-grounded windows.

    Args:
        path: the video file.
        queries: what to look for; results come back in this order, as written.
        runner: the model runner.
        options: every knob (default 2 fps, 768 frames and 24,576 tokens per call, 3 windows per query).
        video: the file's probe if already made (workers probe once per file).
        on_progress: ``(stage, done, total)`` for ``decode``, ``encode`` and ``generate``.

    Returns:
        A :class:`VideoResult`: per query, spans in video seconds ranked best first, clamped to the video.

    Raises:
        ConfigError: no queries or a bad query. VideoDecodeError, DecoderBackendError, SamplingError: see
        :func:`encode`.
    """
    _grounding_prompts(queries)  # bad queries fail before any video work
    options = options or AnalysisOptions()
    clock = _Clock()
    video, window_s = _probed(path, video, options, clock)
    if window_s is None:
        clip = _encode(path, video, options, runner=runner, clock=clock, on_progress=on_progress, step=(0, 1))
        result = locate_encoded(replace(clip, timings_s=clock.seconds), queries, runner=runner, on_progress=on_progress)
    else:
        walk = _Walk(path, video, options, runner=runner, clock=clock, on_progress=on_progress)
        coarse, logs = _coarse_candidates(walk, queries, window_s=window_s)
        windows = _windows_around(coarse.plan, logs, window_s=window_s)
        _ground_windows(walk, queries, logs, windows)
        result = _merge(walk, queries, logs, coarse.plan)
    if options.snap.target is SnapTarget.SHOTS:
        result = snap_to_shots(result, detect_shots(path, video=video), tolerance_s=options.snap.tolerance_s)
    return result


def snap_to_shots(result: VideoResult, shots: ShotList, *, tolerance_s: float) -> VideoResult:
    """Move every span's ends onto the nearest shot cut within ``tolerance_s`` (:func:`~vidground.shots.snap_span`);
    each span keeps its unsnapped times, and the provenance says what was done (detector, cuts, ends moved)."""
    cuts_s = shots.cuts_s
    moved = 0
    results = []
    for answer in result.results:
        spans = []
        for span in answer.spans:
            start_s, end_s = snap_span(span.start_s, span.end_s, cuts_s, tolerance_s=tolerance_s)
            moved += (start_s != span.start_s) + (end_s != span.end_s)
            spans.append(
                SpanResult(start_s, end_s, span.score, unsnapped_start_s=span.start_s, unsnapped_end_s=span.end_s)
            )
        results.append(replace(answer, spans=tuple(spans)))
    provenance = result.provenance
    snap = {
        "target": str(SnapTarget.SHOTS),
        "tolerance_s": tolerance_s,
        "shots": ShotOptions().to_json(),
        "cuts_s": list(cuts_s),
        "ends_moved": moved,
    }
    timings = {**provenance.timings_s, Stage.SHOTS: shots.seconds}
    return replace(result, results=tuple(results), provenance=replace(provenance, snap=snap, timings_s=timings))


def caption_encoded(
    clip: EncodedClip, *, runner: VideoRunner, on_progress: StageProgress | None = None
) -> CaptionResult:
    """Describe the events of an encoded clip with their times: one ``generate`` call.

    Raises:
        ModelOutputError: the runner returned no answer.
    """
    clock = _Clock(dict(clip.timings_s))
    spans, raw, issues = _caption_clip(clip, runner=runner, clock=clock, on_progress=on_progress)
    captions = stitch_captions(
        [WindowSpans(Window(clip.plan.start_s, clip.plan.end_s), spans)],
        edge_s=_border_tolerance_s(clip.options.sampling),
        iou=NMS_IOU,
    )
    return _caption_result(
        clip.path, clip.video, captions, raw=[raw], issues=issues,
        provenance=_provenance(
            Task.CAPTION, runner, clip.options, passes=[(PassKind.CLIP, clip.plan)], clock=clock),
    )  # fmt: skip


def caption(
    path: str | os.PathLike[str],
    *,
    runner: VideoRunner,
    options: AnalysisOptions | None = None,
    video: VideoProbe | None = None,
    on_progress: StageProgress | None = None,
    cuts_s: Sequence[float] = (),
) -> CaptionResult:
    """Describe the events of a video with their times (dense captioning); long videos in overlapping windows.

    Args: as :func:`locate`, without queries; ``cuts_s``: the video's shot cuts, if known (a long video's windows
    then prefer to end on them: :func:`~vidground.video.windows.end_on_cuts`).

    Returns:
        A :class:`CaptionResult` with captions in video seconds, sorted by start, clamped to the video.

    Raises:
        VideoDecodeError, DecoderBackendError, SamplingError: see :func:`encode`.
    """
    options = options or AnalysisOptions()
    clock = _Clock()
    video, window_s = _probed(path, video, options, clock)
    if window_s is None:
        clip = _encode(path, video, options, runner=runner, clock=clock, on_progress=on_progress, step=(0, 1))
        return caption_encoded(replace(clip, timings_s=clock.seconds), runner=runner, on_progress=on_progress)

    windows = _caption_windows(video, options, window_s=window_s, cuts_s=cuts_s)
    walk = _Walk(path, video, options, runner=runner, clock=clock, on_progress=on_progress)
    raw: list[str] = []
    issues: list[str] = []

    def describe(window: Window, clip: EncodedClip) -> WindowSpans:
        spans, text, window_issues = _caption_clip(clip, runner=runner, clock=clock, on_progress=on_progress)
        raw.append(text)
        issues.extend(f"window {window.start_s:.1f}-{window.end_s:.1f} s: {line}" for line in window_issues)
        return WindowSpans(window, spans)

    pieces = _each_window(walk, windows, describe, first_step=0)
    captions = stitch_captions(pieces, edge_s=_border_tolerance_s(options.sampling), iou=NMS_IOU)
    provenance = _provenance(Task.CAPTION, runner, options, passes=walk.passes, clock=clock)
    return _caption_result(str(path), video, captions, raw=raw, issues=issues, provenance=provenance)


def caption_and_locate(
    path: str | os.PathLike[str],
    queries: Sequence[str],
    *,
    runner: VideoRunner,
    options: AnalysisOptions | None = None,
    video: VideoProbe | None = None,
    on_progress: StageProgress | None = None,
    cuts_s: Sequence[float] = (),
) -> tuple[CaptionResult, VideoResult | None]:
    """Dense-caption a video and answer standing queries with one encoding per window (what ``ingest`` runs).

    Every window is encoded once at the target fps and asked for its captions and, in a second ``generate`` on the
    same encoding, where each query happens; a short video is one window. Queries are grounded in every window
    (no coarse pass: the windows are encoded for the captions anyway), and their spans merged across windows.
    Given the video's shot cuts (``cuts_s``), windows prefer to end on them, as in :func:`caption`.

    Returns:
        The captions, and the query answers (None when ``queries`` is empty).

    Raises:
        ConfigError: a bad query. VideoDecodeError, DecoderBackendError, SamplingError: see :func:`encode`.
    """
    prompts = _grounding_prompts(queries) if queries else []
    options = options or AnalysisOptions()
    clock = _Clock()
    video, window_s = _probed(path, video, options, clock)
    range_start_s, range_end_s = analysed_range_s(video, options.sampling)
    walk = _Walk(path, video, options, runner=runner, clock=clock, on_progress=on_progress)
    caption_raw: list[str] = []
    caption_issues: list[str] = []
    logs = [_QueryLog() for _ in queries]

    def ask(window: Window, clip: EncodedClip) -> WindowSpans:
        where = "" if window_s is None else f"window {window.start_s:.1f}-{window.end_s:.1f} s: "
        spans, text, issues = _caption_clip(clip, runner=runner, clock=clock, on_progress=on_progress)
        caption_raw.append(text)
        caption_issues.extend(where + line for line in issues)
        answers = _generate(
            runner, clip.encoded, prompts, options=options, task=Task.LOCATE, clock=clock, on_progress=on_progress
        )
        for log, answer in zip(logs, answers, strict=True):
            reading = _read_grounding(answer, clip.plan, duration_s=video.duration_s)
            log.readable = log.readable and reading.readable
            log.pieces.append(WindowSpans(window, reading.spans))
            log.raw.append(answer.text)
            log.issues.extend(where + line for line in reading.issues)
        return WindowSpans(window, spans)

    if window_s is None:  # one call sees it all
        clip = _encode(path, video, options, runner=runner, clock=clock, on_progress=on_progress, step=(0, 1))
        walk.passes.append((PassKind.CLIP, clip.plan))
        pieces = [ask(Window(clip.plan.start_s, clip.plan.end_s), clip)]
        del clip
    else:
        windows = _caption_windows(video, options, window_s=window_s, cuts_s=cuts_s)
        pieces = _each_window(walk, windows, ask, first_step=0)
    captions = stitch_captions(pieces, edge_s=_border_tolerance_s(options.sampling), iou=NMS_IOU)
    caption_result = _caption_result(
        str(path), video, captions, raw=caption_raw, issues=caption_issues,
        provenance=_provenance(Task.CAPTION, runner, options, passes=walk.passes, clock=clock),
    )  # fmt: skip
    if not queries:
        return caption_result, None
    edge_s = _border_tolerance_s(options.sampling)
    results = []
    for query, log in zip(queries, logs, strict=True):
        merged = merge_window_spans(
            log.pieces, range_start_s=range_start_s, range_end_s=range_end_s, edge_s=edge_s, gap_s=edge_s, iou=NMS_IOU
        )
        results.append(_query_result(query, merged, parsed=log.readable, raw=log.raw, issues=log.issues, video=video))
    located = VideoResult(
        video=str(path),
        duration_s=video.duration_s,
        fps=video.fps,
        results=tuple(results),
        provenance=_provenance(Task.LOCATE, runner, options, passes=walk.passes, clock=clock),
    )
    return caption_result, located


# -- long videos, step by step -------------------------------------------------------------------------------


@dataclass
class _QueryLog:
    """What one query gathered over the passes of a long video."""

    candidates: tuple[Span, ...] = ()
    raw: list[str] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)
    readable: bool = True
    pieces: list[WindowSpans] = field(default_factory=list)


@dataclass
class _Walk:
    """One call's fixed inputs for the passes over a long video, and the passes made so far."""

    path: str | os.PathLike[str]
    video: VideoProbe
    options: AnalysisOptions
    runner: VideoRunner
    clock: _Clock
    on_progress: StageProgress | None
    passes: list[tuple[PassKind, FramePlan]] = field(default_factory=list)
    steps: int = 1  # passes in all, for the encode progress


def _coarse_candidates(walk: _Walk, queries: Sequence[str], *, window_s: float) -> tuple[EncodedClip, list[_QueryLog]]:
    """Step 1: one call over the whole range, thinned to the frames one window call holds (so it fits the token
    budget at the same frame-size floor, not max_frames squeezed to 28x28), asks where each query may be."""
    sampling = walk.options.sampling
    thinned = replace(sampling, max_frames=round(window_s * sampling.target_fps))
    coarse = _encode(
        walk.path, walk.video, replace(walk.options, sampling=thinned), runner=walk.runner, clock=walk.clock,
        on_progress=walk.on_progress, step=(0, walk.steps),
    )  # fmt: skip
    walk.passes.append((PassKind.COARSE, coarse.plan))
    answers = _generate(
        walk.runner,
        coarse.encoded,
        [candidate_prompt(clean_query(q)) for q in queries],
        options=walk.options,
        task=Task.LOCATE,
        clock=walk.clock,
        on_progress=walk.on_progress,
    )
    logs = []
    for answer in answers:
        reading = _read_grounding(answer, coarse.plan, duration_s=walk.video.duration_s)
        log = _QueryLog(
            candidates=temporal_nms(reading.spans, iou=NMS_IOU)[: walk.options.generation.max_windows],
            raw=[answer.text],
            issues=[f"coarse pass: {line}" for line in reading.issues],
            readable=reading.readable,
        )
        if not reading.spans:  # say that "not found" rests on the thinned coarse pass alone
            log.issues.append(
                f"coarse pass at {coarse.plan.sample_fps:.3g} fps found no candidate; no window was re-grounded"
            )
        logs.append(log)
    return coarse, logs


def _caption_windows(
    video: VideoProbe, options: AnalysisOptions, *, window_s: float, cuts_s: Sequence[float]
) -> tuple[Window, ...]:
    """Overlapping windows over the analysed range (10 % overlap), each ending on a shot cut in its overlap if any."""
    range_start_s, range_end_s = analysed_range_s(video, options.sampling)
    overlap_s = window_s * CAPTION_OVERLAP
    windows = plan_windows(range_start_s, range_end_s, window_s=window_s, overlap_s=overlap_s)
    return end_on_cuts(windows, cuts_s, slack_s=overlap_s)


def _candidate_pad_s(coarse: FramePlan) -> float:
    """How far around a coarse candidate to look: 10 s, or four coarse frames when those are further apart."""
    return max(10.0, 4.0 / coarse.sample_fps)


def _windows_around(coarse: FramePlan, logs: Sequence[_QueryLog], *, window_s: float) -> tuple[Window, ...]:
    """Step 2: windows around every query's candidates, padded, joined where they meet, split to fit one call."""
    pad_s = _candidate_pad_s(coarse)
    return candidate_windows(
        [span for log in logs for span in log.candidates],
        start_s=coarse.start_s,
        end_s=coarse.end_s,
        window_s=window_s,
        overlap_s=min(pad_s, window_s / 4),
        pad_s=pad_s,
    )


def _ground_windows(walk: _Walk, queries: Sequence[str], logs: list[_QueryLog], windows: Sequence[Window]) -> None:
    """Step 3: each window at the target fps, asked only the queries whose candidates lie in it."""
    pad_s = _candidate_pad_s(walk.passes[0][1])
    walk.steps = len(windows) + 1

    def ask(window: Window, clip: EncodedClip) -> None:
        asked = [
            q
            for q, log in enumerate(logs)
            if any(s.start_s - pad_s < window.end_s and s.end_s + pad_s > window.start_s for s in log.candidates)
        ]
        answers = _generate(
            walk.runner,
            clip.encoded,
            [grounding_prompt(clean_query(queries[q])) for q in asked],
            options=walk.options,
            task=Task.LOCATE,
            clock=walk.clock,
            on_progress=walk.on_progress,
        )
        where = f"window {window.start_s:.1f}-{window.end_s:.1f} s"
        for q, answer in zip(asked, answers, strict=True):
            reading = _read_grounding(answer, clip.plan, duration_s=walk.video.duration_s)
            log = logs[q]
            log.readable = log.readable and reading.readable
            log.pieces.append(WindowSpans(window, reading.spans))
            log.raw.append(answer.text)
            log.issues.extend(f"{where}: {line}" for line in reading.issues)

    _each_window(walk, windows, ask, first_step=1)


def _merge(walk: _Walk, queries: Sequence[str], logs: Sequence[_QueryLog], coarse: FramePlan) -> VideoResult:
    """Step 4: one timeline per query. A piece within two sampled frames of a window border was cut by it."""
    edge_s = _border_tolerance_s(walk.options.sampling)
    results = []
    for query, log in zip(queries, logs, strict=True):
        merged = merge_window_spans(
            log.pieces,
            range_start_s=coarse.start_s,
            range_end_s=coarse.end_s,
            edge_s=edge_s,
            gap_s=edge_s,
            iou=NMS_IOU,
        )
        results.append(
            _query_result(query, merged, parsed=log.readable, raw=log.raw, issues=log.issues, video=walk.video)
        )
    provenance = _provenance(Task.LOCATE, walk.runner, walk.options, passes=walk.passes, clock=walk.clock)
    return VideoResult(
        video=str(walk.path),
        duration_s=walk.video.duration_s,
        fps=walk.video.fps,
        results=tuple(results),
        provenance=provenance,
    )


def _each_window(
    walk: _Walk, windows: Sequence[Window], ask: Callable[[Window, EncodedClip], T], *, first_step: int
) -> list[T]:
    """The one loop over a long video's windows, for locate and caption: encode a window at the target fps,
    ask it, free it before the next (at most one window's frames and features are held at a time)."""
    results = []
    for i, window in enumerate(windows):
        clip = _encode(
            walk.path,
            walk.video,
            replace(walk.options, sampling=_within(walk.options.sampling, window)),
            runner=walk.runner,
            clock=walk.clock,
            on_progress=walk.on_progress,
            step=(first_step + i, first_step + len(windows)),
        )
        walk.passes.append((PassKind.WINDOW, clip.plan))
        results.append(ask(window, clip))
        del clip
    return results


# -- the steps -----------------------------------------------------------------------------------------------


def _grounding_prompts(queries: Sequence[str]) -> list[str]:
    """One grounding prompt per query (the cleaned text goes into the prompt only).

    Raises:
        ConfigError: not a list of strings, an empty list, or an empty or too long query.
    """
    if isinstance(queries, str) or not queries:
        raise ConfigError(f"queries: expected a non-empty list of strings, got {queries!r}")
    return [grounding_prompt(clean_query(q)) for q in queries]


def analysed_range_s(video: VideoProbe, sampling: SamplingOptions) -> tuple[float, float]:
    """The times (seconds) of the first and last source frame inside the requested start/end.

    Raises:
        SamplingError: the range holds fewer than two frames.
    """
    first, last = frame_range_s(video, video_start=sampling.video_start, video_end=sampling.video_end)
    return _frame_time_s(video, first), _frame_time_s(video, last)


def window_length_s(video: VideoProbe, options: AnalysisOptions) -> float | None:
    """Window length in seconds if the analysed range needs more than one call at the target fps, else None.

    Example: a 30 min video at 2 fps wants 3,600 frames; one call takes 768 (384 s), so windows of 384 s.
    A fixed ``nframes`` never needs windows: the caller asked for exactly that many frames.

    Raises:
        SamplingError: the range holds fewer than two frames, or the caps leave room for fewer than two.
    """
    sampling = options.sampling
    if sampling.nframes is not None:
        return None
    fps = sampling.target_fps
    window_s = max_window_s(
        fps=fps,
        max_frames=sampling.max_frames,
        max_tokens=sampling.budget_tokens(),
        min_frame_pixels=sampling.min_pixels or DEFAULT_MIN_PIXELS,
    )
    first, last = frame_range_s(video, video_start=sampling.video_start, video_end=sampling.video_end)
    wanted_frames = (last - first + 1) / video.fps * fps
    return window_s if wanted_frames > window_s * fps else None


def _probed(
    path: str | os.PathLike[str], video: VideoProbe | None, options: AnalysisOptions, clock: _Clock
) -> tuple[VideoProbe, float | None]:
    """The file's probe (the caller's, else made now and timed) and its window length (None: one call sees it)."""
    video = video if video is not None else clock.timed(Stage.PROBE, probe, path)
    return video, window_length_s(video, options)


def _border_tolerance_s(sampling: SamplingOptions) -> float:
    """How near (seconds) a window border a span must come to count as cut by it: two frames, at least 1 s."""
    return max(1.0, 2.0 / sampling.target_fps)


def _frame_time_s(video: VideoProbe, index: int) -> float:
    return video.frame_times_s[index] if video.frame_times_s else index / video.fps


class _Clock:
    """Wall seconds spent per stage over one call (all passes summed), for the provenance."""

    def __init__(self, seconds: dict[Stage, float] | None = None) -> None:
        self.seconds: dict[Stage, float] = seconds if seconds is not None else {}

    def add(self, stage: Stage, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def timed(self, stage: Stage, fn: Callable[..., T], *args: object) -> T:
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.add(stage, time.perf_counter() - started)


def _within(sampling: SamplingOptions, window: Window) -> SamplingOptions:
    """The same sampling, restricted to a window's seconds (the window is sampled at the target fps)."""
    return replace(sampling, video_start=window.start_s, video_end=window.end_s)


def _encode(
    path: str | os.PathLike[str],
    video: VideoProbe,
    options: AnalysisOptions,
    *,
    runner: VideoRunner,
    clock: _Clock,
    on_progress: StageProgress | None,
    step: tuple[int, int],
) -> EncodedClip:
    """Plan, decode and encode one pass; ``step`` = (pass, passes in all) for the ``encode`` progress."""
    plan = plan_frames(video, options.sampling)
    decoding = options.decoding
    started = time.perf_counter()
    decoded = decode_frames(
        path,
        plan,
        backend=decoding.backend,
        resize=decoding.resize,
        threads=decoding.threads,
        resize_threads=decoding.resize_threads,
        probe=video,
        on_progress=None if on_progress is None else _stage(on_progress, Stage.DECODE),
    )
    clock.add(Stage.DECODE, time.perf_counter() - started)
    logger.info(
        "encoding path=%s n_frames=%s tokens=%s sample_fps=%.4g",
        path,
        len(plan.frames),
        plan.num_tokens,
        plan.sample_fps,
    )
    encoded = clock.timed(Stage.ENCODE, runner.encode_video, decoded.frames, plan)  # frames (T, 3, H, W) uint8
    if on_progress is not None:
        on_progress(Stage.ENCODE, step[0] + 1, step[1])
    return EncodedClip(
        path=str(path), video=video, plan=plan, encoded=encoded, options=options, backend=str(decoded.backend)
    )


def _stage(on_progress: StageProgress, stage: Stage) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        on_progress(stage, done, total)

    return report


def _generate(
    runner: VideoRunner,
    encoded: EncodedVideo,
    prompts: list[str],
    *,
    options: AnalysisOptions,
    task: Task,
    clock: _Clock,
    on_progress: StageProgress | None,
) -> list[Generation]:
    if not prompts:
        return []
    progress = None if on_progress is None else _stage(on_progress, Stage.GENERATE)
    started = time.perf_counter()
    answers = runner.generate(
        encoded,
        prompts,
        max_new_tokens=options.generation.new_tokens_for(task),
        batch_size=options.generation.batch_size,
        on_progress=progress,
    )
    clock.add(Stage.GENERATE, time.perf_counter() - started)
    if len(answers) != len(prompts):
        raise InternalError(f"runner {runner.info.model_id}: expected {len(prompts)} answers, got {len(answers)}")
    return answers


class _Reading(NamedTuple):
    spans: tuple[Span, ...]
    found: bool  # the answer named at least one span
    readable: bool  # spans, or an explicit "does not occur": the answer was understood
    issues: list[str]


def _read_grounding(answer: Generation, plan: FramePlan, *, duration_s: float, scores: bool = True) -> _Reading:
    """Parse one answer, score its spans, map them to video time.

    "Not found" is not an issue when the model said so in words or with an empty JSON list (``[]``, a window
    with no events to caption); an answer that could not be read is, and is marked not ``readable``.
    """
    parsed = parse_spans(answer.text)
    issues = list(parsed.issues)
    if parsed.outcome is not ParseOutcome.FOUND:
        readable = parsed.outcome is not ParseOutcome.UNREADABLE
        if not readable:
            issues.append(f"unreadable answer: {parsed.reason}")
        return _Reading((), False, readable, issues)
    spans = parsed.spans
    if scores:
        values = span_scores(parsed.positions, tokens=answer.tokens, token_logprobs=answer.token_logprobs)
        spans = tuple(replace(s, score=v) for s, v in zip(spans, values, strict=True))
    mapped, map_issues = map_spans(spans, plan, duration_s=duration_s)
    issues.extend(map_issues)
    return _Reading(mapped, True, True, issues)


def _rank(spans: Sequence[Span], issues: list[str]) -> tuple[Span, ...]:
    """Best first; near-duplicates (IoU >= 0.5) are fused into the better one, with a note."""
    kept = temporal_nms(spans, iou=NMS_IOU)
    if len(kept) < len(spans):
        issues.append(f"{len(spans) - len(kept)} span(s) overlapping a better one by IoU >= {NMS_IOU} left out")
    return kept


def _damage_issues(video: VideoProbe) -> list[str]:
    """An issue line for a damaged file: only its readable part was analysed (the probe kept only those frames)."""
    return [f"damaged file: {video.damaged}; only the readable part was analysed"] if video.damaged else []


def _query_result(
    query: str,
    spans: Sequence[Span],
    *,
    parsed: bool,
    raw: Sequence[str],
    issues: Sequence[str],
    video: VideoProbe,
) -> QueryResult:
    return QueryResult(
        query=query,
        found=bool(spans),
        parsed=parsed,
        spans=tuple(SpanResult(s.start_s, s.end_s, s.score) for s in spans),
        raw=tuple(raw),
        issues=(*_damage_issues(video), *issues),
    )


def _caption_clip(
    clip: EncodedClip, *, runner: VideoRunner, clock: _Clock, on_progress: StageProgress | None
) -> tuple[tuple[Span, ...], str, list[str]]:
    """Ask one encoded clip for its dense caption: spans in video seconds, the raw answer, its issues."""
    (answer,) = _generate(
        runner,
        clip.encoded,
        [caption_prompt()],
        options=clip.options,
        task=Task.CAPTION,
        clock=clock,
        on_progress=on_progress,
    )
    reading = _read_grounding(answer, clip.plan, duration_s=clip.video.duration_s, scores=False)
    return reading.spans, answer.text, reading.issues


def _caption_result(
    path: str,
    video: VideoProbe,
    captions: Sequence[Span],
    *,
    raw: Sequence[str],
    issues: Sequence[str],
    provenance: Provenance,
) -> CaptionResult:
    return CaptionResult(
        video=path,
        duration_s=video.duration_s,
        fps=video.fps,
        captions=tuple(CaptionSpan(c.start_s, c.end_s, c.text or "") for c in captions),
        raw=tuple(raw),
        issues=(*_damage_issues(video), *issues),
        provenance=provenance,
    )


def _provenance(
    task: Task,
    runner: VideoRunner,
    options: AnalysisOptions,
    *,
    passes: Sequence[tuple[PassKind, FramePlan]],
    clock: _Clock,
) -> Provenance:
    info = runner.info
    times = sorted({t for _, plan in passes for t in plan.times_s})
    return Provenance(
        task=task,
        vidground_version=vidground.__version__,
        model_id=info.model_id,
        model_revision=info.revision,
        device=info.device,
        dtype=info.dtype,
        attn_implementation=info.attn_implementation,
        prompt_version=PROMPT_VERSION,
        options=options,
        start_s=min(plan.start_s for _, plan in passes),
        end_s=max(plan.end_s for _, plan in passes),
        passes=tuple(
            PassInfo(
                kind=kind,
                start_s=plan.start_s,
                end_s=plan.end_s,
                sample_fps=plan.sample_fps,
                n_frames=len(plan.frames),
                n_tokens=plan.num_tokens,
            )
            for kind, plan in passes
        ),
        frame_times_s=tuple(times),
        timings_s=dict(clock.seconds),
    )


__all__ = [
    "EncodedClip",
    "analysed_range_s",
    "caption",
    "caption_and_locate",
    "caption_encoded",
    "encode",
    "locate",
    "locate_encoded",
    "needs_windows",
    "snap_to_shots",
    "window_length_s",
]
