"""Find when things happen in a video, or caption it with timestamps: the one file to read top to bottom.

Three calls, as in lighthouse::

    clip = encode("movie.mp4", runner=runner)  # probe, sample, decode, encode: the expensive part
    result = locate_encoded(clip, ["person opens door"], runner=runner)  # cheap, repeatable
    result = locate("movie.mp4", ["person opens door", "dog barks"], runner=runner)  # both; long videos too

The path of one ``locate`` call:

1. ``probe`` the file (frame times from the container) and decide whether one model call can see the analysed
   range at the target fps within ``max_frames`` and the token budget
   (``vidground.video.windows.max_window_s``).
2. **Short video**: one frame plan, one decode, one ``encode_video``, one ``generate`` with every query's
   prompt.
3. **Long video** (spec 11.5): a *coarse* call over the whole range, thinned to fit, asks where each query may
   happen; the best candidates become windows (padded, joined, split to fit one call), each window is encoded
   once at the full target fps and asked the queries whose candidates lie in it; each answer's spans are
   mapped to video time and the windows' spans are merged (pieces of one event cut by a border fused,
   duplicates suppressed).
4. Each answer is parsed (``parse_spans``), scored from its token probabilities (``span_scores``), mapped from
   model time to video time through the plan's frame times and clamped to the video (``map_spans``), ranked.
   Anything odd in the answer is kept: the raw text always, and one line per problem in ``issues``.

``caption`` is the same with the dense caption prompt; long videos are covered by overlapping windows whose
captions are stitched into one timeline (``stitch_captions``).

Progress is reported as ``on_progress(stage, done, total)`` with stages ``decode``, ``encode`` and
``generate``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import vidground
from vidground.errors import ConfigError, ModelOutputError
from vidground.model.base import EncodedVideo, Generation, VideoRunner
from vidground.model.prompts import (
    PROMPT_VERSION,
    candidate_prompt,
    caption_prompt,
    clean_query,
    grounding_prompt,
)
from vidground.output.merge import (
    WindowSpans,
    map_spans,
    merge_window_spans,
    span_scores,
    stitch_captions,
    temporal_nms,
)
from vidground.output.spans import NEGATION_REASON, parse_spans
from vidground.output.timecodes import TimeStyle
from vidground.results import (
    CaptionResult,
    CaptionSpan,
    PassInfo,
    Provenance,
    QueryResult,
    SpanResult,
    VideoResult,
)
from vidground.settings import DecoderName, ResizeMode
from vidground.timeline import FramePlan, Span, VideoProbe
from vidground.video.decode import decode_frames
from vidground.video.probe import probe
from vidground.video.sampling import (
    DEFAULT_FPS,
    DEFAULT_MIN_PIXELS,
    SamplingOptions,
    frame_range_s,
    plan_frames,
)
from vidground.video.windows import Window, candidate_windows, max_window_s, plan_windows

logger = logging.getLogger(__name__)

StageProgress = Callable[[str, int, int], None]

GROUNDING_MAX_NEW_TOKENS = 256
CAPTION_MAX_NEW_TOKENS = 1024
DEFAULT_MAX_WINDOWS = 3  # candidate windows re-grounded per query on a long video
NMS_IOU = 0.5
CAPTION_OVERLAP = 0.1  # neighbouring caption windows share this fraction of a window


@dataclass(frozen=True, eq=False)
class EncodedClip:
    """A video (or part of one) as the model holds it: reuse it for any number of queries.

    ``plan`` is what the model saw (frame indices and times, size, ``sample_fps``); ``encoded`` is the
    runner's own.
    """

    path: str
    video: VideoProbe
    plan: FramePlan
    encoded: EncodedVideo
    sampling: SamplingOptions
    backend: str
    resize: str


def encode(
    path: str | os.PathLike[str],
    *,
    runner: VideoRunner,
    sampling: SamplingOptions | None = None,
    backend: DecoderName | str = DecoderName.PYAV,
    resize: ResizeMode | str = ResizeMode.REFERENCE,
    threads: int = 2,
    video: VideoProbe | None = None,
    on_progress: StageProgress | None = None,
) -> EncodedClip:
    """Probe, sample, decode and encode a video once (the expensive step).

    Args:
        path: the video file.
        runner: the model runner that will answer questions about the clip.
        sampling: fps or frame count, frame and token caps, ``video_start``/``video_end`` in seconds.
        backend: the decoder, ``pyav`` or ``decord``.
        resize: ``reference`` or ``fast``.
        threads: decoder threads.
        video: the file's probe if already made.
        on_progress: ``(stage, done, total)`` for the ``decode`` and ``encode`` stages.

    Raises:
        VideoDecodeError, DecoderBackendError: the file cannot be read.
        SamplingError: the options do not fit the video.
    """
    video = video if video is not None else probe(path)
    return _encode(
        path,
        video,
        sampling or SamplingOptions(),
        runner=runner,
        decoding=_Decoding(backend, resize, threads),
        on_progress=on_progress,
        step=(0, 1),
    )


def locate_encoded(
    clip: EncodedClip,
    queries: Sequence[str],
    *,
    runner: VideoRunner,
    time_style: TimeStyle | str = TimeStyle.SECONDS,
    max_new_tokens: int = GROUNDING_MAX_NEW_TOKENS,
    on_progress: StageProgress | None = None,
) -> VideoResult:
    """Ask when each query happens in an encoded clip: one ``generate`` call for all queries.

    Args:
        clip: from :func:`encode`, made by the same ``runner``.
        queries: what to look for, in plain words; results come back in this order.
        time_style: timecode style of ``start_tc``/``end_tc`` (``seconds``, ``clock``, ``hmsf``).
        max_new_tokens: answer length cap.
        on_progress: ``(stage, done, total)`` for the ``generate`` stage.

    Raises:
        ConfigError: no queries, or an empty or too long one. TimecodeError: a bad ``time_style``.
    """
    cleaned = _clean_queries(queries)
    answers = _generate(
        runner,
        clip.encoded,
        [grounding_prompt(q) for q in cleaned],
        max_new_tokens=max_new_tokens,
        on_progress=on_progress,
    )
    results = []
    for query, answer in zip(cleaned, answers, strict=True):
        spans, found, readable, issues = _read_grounding(answer, clip.plan, duration_s=clip.video.duration_s)
        ranked = _rank(spans, issues)
        results.append(
            _query_result(
                query,
                ranked,
                found=found,
                parsed=readable,
                raw=[answer.text],
                issues=issues,
                fps=clip.video.fps,
                time_style=time_style,
            )
        )
    provenance = _provenance(
        runner,
        clip.sampling,
        backend=clip.backend,
        resize=clip.resize,
        time_style=time_style,
        passes=[("clip", clip.plan)],
    )
    return VideoResult(video=clip.path, duration_s=clip.video.duration_s, results=tuple(results), provenance=provenance)


def locate(
    path: str | os.PathLike[str],
    queries: Sequence[str],
    *,
    runner: VideoRunner,
    sampling: SamplingOptions | None = None,
    backend: DecoderName | str = DecoderName.PYAV,
    resize: ResizeMode | str = ResizeMode.REFERENCE,
    threads: int = 2,
    time_style: TimeStyle | str = TimeStyle.SECONDS,
    max_new_tokens: int = GROUNDING_MAX_NEW_TOKENS,
    max_windows: int = DEFAULT_MAX_WINDOWS,
    on_progress: StageProgress | None = None,
) -> VideoResult:
    """Find when each query happens in a video; long videos go through a coarse pass and re-grounded windows.

    Args:
        path: the video file.
        queries: what to look for; results come back in this order.
        runner: the model runner.
        sampling: fps or frame count, caps, budget and ``video_start``/``video_end`` (default 2 fps, 768
            frames, 24,576 tokens per call).
        backend, resize, threads: decoding (see :func:`encode`).
        time_style: timecode style of ``start_tc``/``end_tc``.
        max_new_tokens: answer length cap per prompt.
        max_windows: on a long video, how many candidate windows per query are re-grounded at the target fps.
        on_progress: ``(stage, done, total)`` for ``decode``, ``encode`` and ``generate``.

    Returns:
        A :class:`VideoResult`: per query, spans in video seconds ranked best first, clamped to the video.

    Raises:
        ConfigError: no queries, a bad query or ``max_windows`` < 1. VideoDecodeError, DecoderBackendError,
        SamplingError, TimecodeError: see :func:`encode` and :func:`locate_encoded`.
    """
    cleaned = _clean_queries(queries)
    if max_windows < 1:
        raise ConfigError(f"max_windows: expected at least 1, got {max_windows}")
    options = sampling or SamplingOptions()
    decoding = _Decoding(backend, resize, threads)
    video = probe(path)
    window_s = _window_length_s(video, options)
    if window_s is None:
        clip = _encode(
            path,
            video,
            options,
            runner=runner,
            decoding=decoding,
            on_progress=on_progress,
            step=(0, 1),
        )
        return locate_encoded(
            clip,
            cleaned,
            runner=runner,
            time_style=time_style,
            max_new_tokens=max_new_tokens,
            on_progress=on_progress,
        )

    # Long video, step 1: one coarse call over the whole range for candidates, thinned to the frames one window
    # call holds, so it fits the token budget at the same frame-size floor (not max_frames squeezed to 28x28).
    coarse_options = replace(options, max_frames=round(window_s * (options.fps or DEFAULT_FPS)))
    coarse = _encode(
        path,
        video,
        coarse_options,
        runner=runner,
        decoding=decoding,
        on_progress=on_progress,
        step=(0, 1),
    )
    coarse_answers = _generate(
        runner,
        coarse.encoded,
        [candidate_prompt(q) for q in cleaned],
        max_new_tokens=max_new_tokens,
        on_progress=on_progress,
    )
    candidates: list[tuple[Span, ...]] = []
    issues: list[list[str]] = []
    readable: list[bool] = []
    for answer in coarse_answers:
        spans, _, coarse_readable, coarse_issues = _read_grounding(answer, coarse.plan, duration_s=video.duration_s)
        readable.append(coarse_readable)
        candidates.append(temporal_nms(spans, iou=NMS_IOU)[:max_windows])
        issues.append([f"coarse pass: {line}" for line in coarse_issues])
        if not spans:  # say that "not found" rests on the thinned coarse pass alone
            issues[-1].append(
                f"coarse pass at {coarse.plan.sample_fps:.3g} fps found no candidate; no window was re-grounded"
            )

    # Step 2: windows around the candidates, each re-grounded at the target fps for the queries it concerns.
    range_start_s, range_end_s = coarse.plan.start_s, coarse.plan.end_s
    pad_s = max(10.0, 4.0 / coarse.plan.sample_fps)
    windows = candidate_windows(
        [span for spans in candidates for span in spans],
        start_s=range_start_s,
        end_s=range_end_s,
        window_s=window_s,
        overlap_s=min(pad_s, window_s / 4),
        pad_s=pad_s,
    )
    pieces: list[list[WindowSpans]] = [[] for _ in cleaned]
    raw: list[list[str]] = [[answer.text] for answer in coarse_answers]
    passes: list[tuple[str, FramePlan]] = [("coarse", coarse.plan)]
    for step, window in enumerate(windows):
        asked = [
            q
            for q, spans in enumerate(candidates)
            if any(s.start_s - pad_s < window.end_s and s.end_s + pad_s > window.start_s for s in spans)
        ]
        clip = _encode(
            path,
            video,
            _within(options, window),
            runner=runner,
            decoding=decoding,
            on_progress=on_progress,
            step=(step + 1, len(windows) + 1),
        )
        passes.append(("window", clip.plan))
        answers = _generate(
            runner,
            clip.encoded,
            [grounding_prompt(cleaned[q]) for q in asked],
            max_new_tokens=max_new_tokens,
            on_progress=on_progress,
        )
        where = f"window {window.start_s:.1f}-{window.end_s:.1f} s"
        for q, answer in zip(asked, answers, strict=True):
            spans, _, window_readable, window_issues = _read_grounding(answer, clip.plan, duration_s=video.duration_s)
            readable[q] = readable[q] and window_readable
            pieces[q].append(WindowSpans(window, spans))
            raw[q].append(answer.text)
            issues[q].extend(f"{where}: {line}" for line in window_issues)

    # Step 3: one timeline per query. A piece within two sampled frames of a window border was cut by it.
    edge_s = _border_tolerance_s(options)
    results = []
    for q, query in enumerate(cleaned):
        merged = merge_window_spans(
            pieces[q],
            range_start_s=range_start_s,
            range_end_s=range_end_s,
            edge_s=edge_s,
            gap_s=edge_s,
            iou=NMS_IOU,
        )
        results.append(
            _query_result(
                query,
                merged,
                found=bool(merged),
                parsed=readable[q],
                raw=raw[q],
                issues=issues[q],
                fps=video.fps,
                time_style=time_style,
            )
        )
    provenance = _provenance(
        runner, options, backend=coarse.backend, resize=coarse.resize, time_style=time_style, passes=passes
    )
    return VideoResult(video=str(path), duration_s=video.duration_s, results=tuple(results), provenance=provenance)


def caption(
    path: str | os.PathLike[str],
    *,
    runner: VideoRunner,
    sampling: SamplingOptions | None = None,
    backend: DecoderName | str = DecoderName.PYAV,
    resize: ResizeMode | str = ResizeMode.REFERENCE,
    threads: int = 2,
    time_style: TimeStyle | str = TimeStyle.SECONDS,
    max_new_tokens: int = CAPTION_MAX_NEW_TOKENS,
    on_progress: StageProgress | None = None,
) -> CaptionResult:
    """Describe the events of a video with their times (dense captioning); long videos in overlapping windows.

    Args: as :func:`locate`, without queries.

    Returns:
        A :class:`CaptionResult` with captions in video seconds, sorted by start, clamped to the video.

    Raises:
        VideoDecodeError, DecoderBackendError, SamplingError, TimecodeError: see :func:`encode`.
    """
    options = sampling or SamplingOptions()
    decoding = _Decoding(backend, resize, threads)
    video = probe(path)
    window_s = _window_length_s(video, options)
    first, last = frame_range_s(video, video_start=options.video_start, video_end=options.video_end)
    range_start_s, range_end_s = _frame_time_s(video, first), _frame_time_s(video, last)
    windows = (
        (None,)
        if window_s is None
        else plan_windows(range_start_s, range_end_s, window_s=window_s, overlap_s=window_s * CAPTION_OVERLAP)
    )
    pieces: list[WindowSpans] = []
    raw: list[str] = []
    issues: list[str] = []
    passes: list[tuple[str, FramePlan]] = []
    backend_used = str(backend)
    for step, window in enumerate(windows):
        clip = _encode(
            path,
            video,
            options if window is None else _within(options, window),
            runner=runner,
            decoding=decoding,
            on_progress=on_progress,
            step=(step, len(windows)),
        )
        window = window or Window(range_start_s, range_end_s)
        backend_used = clip.backend
        passes.append(("clip" if window_s is None else "window", clip.plan))
        (answer,) = _generate(
            runner, clip.encoded, [caption_prompt()], max_new_tokens=max_new_tokens, on_progress=on_progress
        )
        spans, _, _, answer_issues = _read_grounding(answer, clip.plan, duration_s=video.duration_s, scores=False)
        prefix = "" if window_s is None else f"window {window.start_s:.1f}-{window.end_s:.1f} s: "
        issues.extend(prefix + line for line in answer_issues)
        raw.append(answer.text)
        pieces.append(WindowSpans(window, spans))
    captions = stitch_captions(pieces, edge_s=_border_tolerance_s(options), iou=NMS_IOU)
    provenance = _provenance(
        runner,
        options,
        backend=backend_used,
        resize=str(ResizeMode(resize)),
        time_style=time_style,
        passes=passes,
    )
    return CaptionResult(
        video=str(path),
        duration_s=video.duration_s,
        captions=tuple(CaptionSpan.from_span(c, fps=video.fps, style=time_style) for c in captions),
        raw=tuple(raw),
        issues=tuple(issues),
        provenance=provenance,
    )


# -- the steps -----------------------------------------------------------------------------------------------


def _clean_queries(queries: Sequence[str]) -> list[str]:
    if isinstance(queries, str) or not queries:
        raise ConfigError(f"queries: expected a non-empty list of strings, got {queries!r}")
    return [clean_query(q) for q in queries]


def _window_length_s(video: VideoProbe, options: SamplingOptions) -> float | None:
    """Window length in seconds if the analysed range needs more than one call at the target fps, else None.

    Example: a 30 min video at 2 fps wants 3,600 frames; one call takes 768 (384 s), so windows of 384 s.
    A fixed ``nframes`` never needs windows: the caller asked for exactly that many frames.
    """
    if options.nframes is not None:
        return None
    fps = options.fps or DEFAULT_FPS
    budget_tokens = options.max_tokens
    if options.total_pixels is not None:
        budget_tokens = min(budget_tokens, options.total_pixels // (28 * 28))
    window_s = max_window_s(
        fps=fps,
        max_frames=options.max_frames,
        max_tokens=budget_tokens,
        min_frame_pixels=options.min_pixels or DEFAULT_MIN_PIXELS,
    )
    first, last = frame_range_s(video, video_start=options.video_start, video_end=options.video_end)
    wanted_frames = (last - first + 1) / video.fps * fps
    return window_s if wanted_frames > window_s * fps else None


def _border_tolerance_s(options: SamplingOptions) -> float:
    """How near (seconds) a window border a span must come to count as cut by it: two frames, at least 1 s."""
    return max(1.0, 2.0 / (options.fps or DEFAULT_FPS))


def _frame_time_s(video: VideoProbe, index: int) -> float:
    return video.frame_times_s[index] if video.frame_times_s else index / video.fps


@dataclass(frozen=True)
class _Decoding:
    """How every pass of one call reads frames: decoder, resize path, decoder threads."""

    backend: DecoderName | str
    resize: ResizeMode | str
    threads: int


def _within(options: SamplingOptions, window: Window) -> SamplingOptions:
    """The same sampling, restricted to a window's seconds (the window is sampled at the target fps)."""
    return replace(options, video_start=window.start_s, video_end=window.end_s)


def _encode(
    path: str | os.PathLike[str],
    video: VideoProbe,
    sampling: SamplingOptions,
    *,
    runner: VideoRunner,
    decoding: _Decoding,
    on_progress: StageProgress | None,
    step: tuple[int, int],
) -> EncodedClip:
    """Plan, decode and encode one pass; ``step`` = (pass, passes in all) for the ``encode`` progress."""
    plan = plan_frames(video, sampling)
    decode_progress = None if on_progress is None else _stage(on_progress, "decode")
    decoded = decode_frames(
        path,
        plan,
        backend=decoding.backend,
        resize=decoding.resize,
        threads=decoding.threads,
        probe=video,
        on_progress=decode_progress,
    )
    logger.info(
        "encoding path=%s n_frames=%s tokens=%s sample_fps=%.4g",
        path,
        len(plan.frames),
        plan.num_tokens,
        plan.sample_fps,
    )
    encoded = runner.encode_video(decoded.frames, plan)  # (T, 3, H, W) uint8
    if on_progress is not None:
        on_progress("encode", step[0] + 1, step[1])
    return EncodedClip(
        path=str(path),
        video=video,
        plan=plan,
        encoded=encoded,
        sampling=sampling,
        backend=str(decoded.backend),
        resize=str(ResizeMode(decoding.resize)),
    )


def _stage(on_progress: StageProgress, stage: str) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        on_progress(stage, done, total)

    return report


def _generate(
    runner: VideoRunner,
    encoded: EncodedVideo,
    prompts: list[str],
    *,
    max_new_tokens: int,
    on_progress: StageProgress | None,
) -> list[Generation]:
    if not prompts:
        return []
    progress = None if on_progress is None else _stage(on_progress, "generate")
    answers = runner.generate(encoded, prompts, max_new_tokens=max_new_tokens, on_progress=progress)
    if len(answers) != len(prompts):
        raise ModelOutputError(f"runner {runner.info.model_id}: expected {len(prompts)} answers, got {len(answers)}")
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
    if not parsed.found:
        empty_list = answer.text.strip().removeprefix("```json").strip("`").strip() == "[]"
        readable = parsed.reason == NEGATION_REASON or empty_list
        if not readable:
            issues.append(f"unreadable answer: {parsed.reason}")
        return _Reading((), False, readable, issues)
    spans = parsed.spans
    if scores:
        values = span_scores(spans, text=answer.text, tokens=answer.tokens, token_logprobs=answer.token_logprobs)
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


def _query_result(
    query: str,
    spans: Sequence[Span],
    *,
    found: bool,
    parsed: bool,
    raw: Sequence[str],
    issues: Sequence[str],
    fps: float,
    time_style: TimeStyle | str,
) -> QueryResult:
    return QueryResult(
        query=query,
        found=found and bool(spans),
        parsed=parsed,
        spans=tuple(SpanResult.from_span(s, fps=fps, style=time_style) for s in spans),
        raw=tuple(raw),
        issues=tuple(issues),
    )


def _provenance(
    runner: VideoRunner,
    options: SamplingOptions,
    *,
    backend: str,
    resize: str,
    time_style: TimeStyle | str,
    passes: Sequence[tuple[str, FramePlan]],
) -> Provenance:
    info = runner.info
    times = sorted({t for _, plan in passes for t in plan.times_s})
    return Provenance(
        vidground_version=vidground.__version__,
        model_id=info.model_id,
        model_revision=info.revision,
        prompt_version=PROMPT_VERSION,
        fps=None if options.nframes is not None else (options.fps or DEFAULT_FPS),
        nframes=options.nframes,
        max_frames=options.max_frames,
        max_tokens=options.max_tokens,
        backend=backend,
        resize=resize,
        time_style=str(TimeStyle(time_style)),
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
    )


__all__ = ["EncodedClip", "caption", "encode", "locate", "locate_encoded"]
