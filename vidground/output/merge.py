"""From the model's answer to spans on the video's timeline: time mapping, scores, ranking, window merging.

The model counts time in seconds from the first sampled frame, at the plan's ``sample_fps`` clock (spec 4.1
and 11.4): frame ``i`` of the plan sits at model time ``i / sample_fps``. :func:`model_to_video_s` turns such
a time into video time through the sampled frames' real presentation times, which also carries the window or
clip offset: a plan for a window that starts at 400 s has frames whose times start at 400 s.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from vidground.output.spans import CharRange, SpanChars
from vidground.timeline import FramePlan, Span
from vidground.video.windows import Window

_DIGIT = re.compile(r"[0-9]")


def model_to_video_s(model_s: float, frame_times_s: Sequence[float], *, sample_fps: float) -> float:
    """Map a model-time answer (seconds from the first sampled frame) to video time in seconds.

    The model time is first turned into a fractional position among the sampled frames (``model_s *
    sample_fps``), then into video time by linear interpolation between those frames' real times. Before the
    first and after the last frame it is extrapolated with the plan's mean frame spacing. Nothing is clamped
    here.

    Example (variable frame rate): frames at 10.0, 10.5, 11.2, 11.5 s, ``sample_fps = 2``:
    model 1.0 s → position 2.0 → 11.2 s; model 0.75 s → position 1.5 → halfway 10.5..11.2 = 10.85 s;
    model 2.0 s → position 4.0, one step past the last frame at the mean spacing (11.5 - 10.0) / 3 = 0.5 →
    12.0 s.

    Args:
        model_s: seconds as the model said them.
        frame_times_s: presentation times (video seconds) of the plan's frames, increasing; at least one.
        sample_fps: the plan's sampling rate (frames per second of model time).

    Returns:
        Video time in seconds (may lie outside the video; clamp with :func:`map_spans`).

    Raises:
        ValueError: no frame times, or ``sample_fps`` not positive (a broken plan, never user input).
    """
    if not frame_times_s or not sample_fps > 0:
        raise ValueError(
            f"expected frame times and a positive sample_fps, got {len(frame_times_s)}, {sample_fps}"
        )
    position = model_s * sample_fps
    last = len(frame_times_s) - 1
    spacing_s = (frame_times_s[-1] - frame_times_s[0]) / last if last > 0 else 1.0 / sample_fps
    if position <= 0:
        return frame_times_s[0] + position * spacing_s
    if position >= last:
        return frame_times_s[-1] + (position - last) * spacing_s
    i = math.floor(position)
    frac = position - i
    return frame_times_s[i] + frac * (frame_times_s[i + 1] - frame_times_s[i])


def map_spans(
    spans: Sequence[Span], plan: FramePlan, *, duration_s: float
) -> tuple[tuple[Span, ...], list[str]]:
    """Map spans from model time to video time, clamped to ``[0, duration_s]``, saying what was wrong with
    each.

    A span whose end comes before its start is dropped; one that ends after the sampled clip (more than one
    frame step past its last frame) or lands outside the video is clamped; one with nothing left after
    clamping is dropped; a zero-length span is kept. Every such case adds one line to the returned issues.

    Args:
        spans: spans in model seconds (``text`` and ``score`` are carried over).
        plan: the frame plan the model saw.
        duration_s: the video's duration in seconds.

    Returns:
        The spans in video seconds, in input order, and the issue lines.
    """
    times = plan.times_s
    step_s = 1.0 / plan.sample_fps
    clip_end_model_s = len(times) * step_s  # the last frame stands for one step of time
    mapped: list[Span] = []
    issues: list[str] = []
    for span in spans:
        said = f"{span.start_s:g} - {span.end_s:g} s"
        if span.end_s < span.start_s:
            issues.append(f"span {said}: end before start; dropped")
            continue
        if span.end_s > clip_end_model_s + step_s:
            issues.append(f"span {said}: ends after the sampled clip ({clip_end_model_s:g} s); clamped")
        start_s = model_to_video_s(span.start_s, times, sample_fps=plan.sample_fps)
        end_s = model_to_video_s(span.end_s, times, sample_fps=plan.sample_fps)
        clamped_start_s = min(max(start_s, 0.0), duration_s)
        clamped_end_s = min(max(end_s, 0.0), duration_s)
        if clamped_end_s <= clamped_start_s and end_s > start_s:
            issues.append(f"span {said}: outside the video (0 - {duration_s:g} s); dropped")
            continue
        if end_s == start_s:
            issues.append(f"span {said}: zero length")
        mapped.append(replace(span, start_s=clamped_start_s, end_s=clamped_end_s))
    return tuple(mapped), issues


def span_scores(
    positions: Sequence[SpanChars], *, tokens: Sequence[str], token_logprobs: Sequence[float]
) -> list[float | None]:
    """A confidence in [0, 1] for each parsed span: the mean probability of the tokens that wrote its two
    times.

    ``positions`` come from :func:`~vidground.output.spans.parse_spans`, which read the answer once and kept
    where each span's start and end stand in the text. The score is the mean of ``exp(logprob)`` over the
    tokens overlapping those characters. Qwen writes one digit per token, so this is the mean certainty of the
    digits, point and colons of the two times. A span whose positions are unknown (or cover no token) scores
    the mean probability of all tokens holding a digit (of all tokens when none does); every span is ``None``
    when the answer came without tokens.

    Example: ``"happens in 64.0 - 72.0 seconds."``, times at characters 11-15 and 18-22, read as one token
    per character, each at probability 0.9 except the ``4`` at 0.5 → span 64.0-72.0 scores
    (0.9*7 + 0.5) / 8 = 0.85.

    Args:
        positions: where each span's times stand in the answer text, one per span.
        tokens, token_logprobs: the generated tokens (their concatenation is the parsed answer text, so that
            character offsets line up) and their natural-log probabilities.

    Returns:
        One score (or None) per span, in the order of ``positions``.
    """
    if not tokens or len(tokens) != len(token_logprobs):
        return [None] * len(positions)
    bounds = []  # each token's [start, end) characters in the answer
    offset = 0
    for token in tokens:
        bounds.append((offset, offset + len(token)))
        offset += len(token)

    def mean_prob(ranges: Sequence[CharRange]) -> float | None:
        picked = [
            math.exp(lp)
            for (start, end), lp in zip(bounds, token_logprobs, strict=True)
            if any(start < hi and end > lo for lo, hi in ranges)
        ]
        return sum(picked) / len(picked) if picked else None

    probs = [math.exp(lp) for token, lp in zip(tokens, token_logprobs, strict=True) if _DIGIT.search(token)]
    probs = probs or [math.exp(lp) for lp in token_logprobs]
    fallback = sum(probs) / len(probs)
    scores: list[float | None] = []
    for chars in positions:
        known = [r for r in (chars.start_chars, chars.end_chars) if r is not None]
        score = mean_prob(known)
        scores.append(fallback if score is None else score)
    return scores


def temporal_iou(a: Span, b: Span) -> float:
    """Intersection over union of two time spans (1.0 for two equal zero-length spans)."""
    inter = min(a.end_s, b.end_s) - max(a.start_s, b.start_s)
    union = max(a.end_s, b.end_s) - min(a.start_s, b.start_s)
    if union <= 0:
        return 1.0 if a.start_s == b.start_s else 0.0
    return max(inter, 0.0) / union


def rank_spans(spans: Sequence[Span]) -> tuple[Span, ...]:
    """Spans by score, best first (spans without a score last), ties by start time."""
    return tuple(sorted(spans, key=lambda s: (s.score is None, -(s.score or 0.0), s.start_s, s.end_s)))


def temporal_nms(spans: Sequence[Span], *, iou: float = 0.5) -> tuple[Span, ...]:
    """Non-maximum suppression in time: keep the best span of each group overlapping by ``iou`` or more.

    Example: 10-20 s (0.9), 11-21 s (0.7, IoU 9/11 = 0.82 with the first), 40-45 s (0.6) with ``iou=0.5`` →
    10-20 s and 40-45 s.

    Returns:
        The kept spans, ranked as :func:`rank_spans`.
    """
    kept: list[Span] = []
    for span in rank_spans(spans):
        if all(temporal_iou(span, other) < iou for other in kept):
            kept.append(span)
    return tuple(kept)


@dataclass(frozen=True)
class WindowSpans:
    """The spans (video seconds) one window's answer gave, with the window they came from."""

    window: Window
    spans: tuple[Span, ...]


def _cut_at_border(
    span: Span, window: Window, *, range_start_s: float, range_end_s: float, edge_s: float
) -> bool:
    """Whether the span runs into a border of its window that is not an end of the analysed range."""
    inner_start = window.start_s > range_start_s + edge_s
    inner_end = window.end_s < range_end_s - edge_s
    cut_start = inner_start and span.start_s <= window.start_s + edge_s and span.end_s > window.start_s
    cut_end = inner_end and span.end_s >= window.end_s - edge_s and span.start_s < window.end_s
    return cut_start or cut_end


def merge_window_spans(
    pieces: Sequence[WindowSpans],
    *,
    range_start_s: float,
    range_end_s: float,
    edge_s: float = 1.0,
    gap_s: float = 1.0,
    iou: float = 0.5,
) -> tuple[Span, ...]:
    """Put grounding spans from several windows on one timeline: fuse pieces of one event, then drop
    duplicates.

    Two spans from different windows are the same event cut by a window border when they overlap or lie within
    ``gap_s`` of each other and at least one of them runs into a border of its window (within ``edge_s``) that
    is not an end of the analysed range. Such groups are fused into one span covering them all (score: the
    best of them). What remains goes through :func:`temporal_nms` with ``iou``, which removes an event seen
    whole by two overlapping windows.

    Example: windows [0, 384] and [308, 692]; the first says 370-384 s (it runs into its end), the second says
    370-400 s → one span 370-400 s.

    Args:
        pieces: each window's spans in video seconds.
        range_start_s, range_end_s: the analysed part of the video; borders there cut nothing.
        edge_s: how close to a border (seconds) a span must come to count as cut by it.
        gap_s: the largest gap (seconds) between two pieces of one event.
        iou: the NMS overlap threshold.

    Returns:
        The merged spans, ranked best first.
    """
    items = [
        (
            span,
            k,
            _cut_at_border(
                span, p.window, range_start_s=range_start_s, range_end_s=range_end_s, edge_s=edge_s
            ),
        )
        for k, p in enumerate(pieces)
        for span in p.spans
    ]
    parent = list(range(len(items)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, (a, window_a, cut_a) in enumerate(items):
        for j in range(i + 1, len(items)):
            b, window_b, cut_b = items[j]
            near = a.start_s <= b.end_s + gap_s and b.start_s <= a.end_s + gap_s
            if window_a != window_b and near and (cut_a or cut_b):
                parent[root(j)] = root(i)
    groups: dict[int, list[Span]] = {}
    for i, (span, _, _) in enumerate(items):
        groups.setdefault(root(i), []).append(span)
    fused = []
    for group in groups.values():
        scores = [s.score for s in group if s.score is not None]
        longest = max(group, key=lambda s: s.duration_s)
        fused.append(
            Span(
                start_s=min(s.start_s for s in group),
                end_s=max(s.end_s for s in group),
                score=max(scores) if scores else None,
                text=longest.text,
            )
        )
    return temporal_nms(fused, iou=iou)


def stitch_captions(
    pieces: Sequence[WindowSpans], *, edge_s: float = 1.0, iou: float = 0.5
) -> tuple[Span, ...]:
    """Join dense captions from overlapping windows into one timeline without duplicates at the seams.

    1. Each pair of neighbouring windows has a seam in the middle of their overlap; a window owns the time
       between its seams, and keeps only the captions that *start* in what it owns.
    2. A kept caption that runs into the end of its window (within ``edge_s``) continues in the next window:
       the next window's caption overlapping it most gives its real end, and is not kept again.
    3. Of two captions from different windows that still overlap by ``iou`` or more, the earlier window's
       stays.

    Example: windows [0, 100] and [80, 180] (seam 90). The first says "a" 10-40 and "b" 85-100 (cut); the
        second
    says "b" 84-120 and "c" 130-150. Kept: "a" 10-40, "b" 85-120 (extended by the second window), "c" 130-150.

    Args:
        pieces: each window's captions in video seconds (``text`` set), windows sorted or not.

    Returns:
        The captions sorted by start time.
    """
    ordered = sorted(pieces, key=lambda p: (p.window.start_s, p.window.end_s))
    seams = [
        (a.window.end_s + b.window.start_s) / 2 if b.window.start_s < a.window.end_s else b.window.start_s
        for a, b in itertools.pairwise(ordered)
    ]
    consumed: set[tuple[int, int]] = set()
    kept: list[tuple[Span, int]] = []
    for k, piece in enumerate(ordered):
        owns_from = seams[k - 1] if k > 0 else -math.inf
        owns_to = seams[k] if k < len(seams) else math.inf
        for m, caption in enumerate(piece.spans):
            if (k, m) in consumed or not owns_from <= caption.start_s < owns_to:
                continue
            current, window_k = caption, k
            while window_k + 1 < len(ordered) and current.end_s >= ordered[window_k].window.end_s - edge_s:
                following = ordered[window_k + 1].spans
                overlaps = [
                    (min(current.end_s, c.end_s) - max(current.start_s, c.start_s), n)
                    for n, c in enumerate(following)
                    if (window_k + 1, n) not in consumed
                ]
                best = max(overlaps, default=(0.0, -1))
                if best[0] <= 0:
                    break
                consumed.add((window_k + 1, best[1]))
                current = replace(current, end_s=max(current.end_s, following[best[1]].end_s))
                window_k += 1
            kept.append((current, k))
    kept.sort(key=lambda item: (item[1], item[0].start_s))
    result: list[tuple[Span, int]] = []
    for caption, k in kept:
        if any(k != j and temporal_iou(caption, other) >= iou for other, j in result):
            continue
        result.append((caption, k))
    return tuple(sorted((caption for caption, _ in result), key=lambda c: (c.start_s, c.end_s)))
