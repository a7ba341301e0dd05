"""Predictions for ``vidground eval``: QVHighlights-style submissions and vidground's ``locate`` output.

Accepted files (one JSON document, a JSON list, or JSONL; the kinds may not be mixed up within one record):

- QVHighlights records ``{"qid", "pred_relevant_windows": [[start, end, score], ...]}`` matched to the ground
  truth by ``qid``. ``score`` may be missing or null. Optional ``parsed`` (bool) and ``latency_s`` (number)
  are read too — the runner's resumable cache is this format. A record that also gives its video (``vid`` or
  ``video``) and ``query`` is matched by them where its qid does not fit (see ``_match_record``): other
  tools (lighthouse, Moment-DETR/QD-DETR runs on converted datasets) number queries 0, 1, ... by line.
- vidground output ``{"video", "duration_s", "results": [{"query", "found", "spans": [{"start_s", "end_s",
  "score"}]}], "provenance": {...}}``, one object per video, matched by video name (``video_key``) and query
  text (``query_key``). A result counts as parsed when its ``parsed`` field says so, else when ``found`` is
  true.

Windows are kept as written (reversed, negative or past the end); ``metrics.clean_spans`` repairs them at
scoring.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from vidground.errors import EvalDataError
from vidground.eval.groundtruth import GroundTruthItem, json_lines, query_key, video_key
from vidground.timeline import Span

MatchKey = tuple[str, str]  # (video_key, query_key): how an entry that gives its video and query text is matched
MAX_EXAMPLES = 3  # entries quoted in messages about matching


@dataclass(frozen=True)
class Prediction:
    """What a system answered for one ground-truth query.

    ``spans`` are in the order given (ranking by score happens at scoring). ``parsed`` is False when the
    answer could not be read at all; a parsed answer may still have no spans (the system said the event does
    not occur).
    """

    qid: str
    spans: tuple[Span, ...]
    parsed: bool = True
    latency_s: float | None = None


@dataclass(frozen=True)
class LoadedPredictions:
    """Predictions matched to ground-truth query ids, and what could not be matched."""

    by_qid: dict[str, Prediction]
    n_unmatched: int = 0  # prediction entries (records or vidground results) naming no ground-truth query
    provenance: dict[str, object] = field(default_factory=dict)
    unmatched_examples: tuple[str, ...] = ()  # the first few unmatched entries, described for a message


def load_predictions(path: str | Path, gt: Sequence[GroundTruthItem]) -> LoadedPredictions:
    """Read a predictions file and match it to the ground truth.

    Args:
        path: QVHighlights-style or vidground JSON/JSONL (see the module docstring).
        gt: the ground truth the predictions answer.

    Raises:
        EvalDataError: unreadable file, malformed record, two predictions for the same query, or not one
            prediction matches a ground-truth query (the message gives a few expected and found ids).
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalDataError(f"{source}: cannot read predictions: {exc}") from exc
    loaded = parse_predictions(text, gt, source=source)
    if gt and not loaded.by_qid:
        expected = ", ".join(_describe(item.qid, item.video, item.query) for item in gt[:MAX_EXAMPLES])
        got = (
            f"got {loaded.n_unmatched} entries such as {', '.join(loaded.unmatched_examples)}"
            if loaded.n_unmatched
            else "got no prediction entries"
        )
        raise EvalDataError(
            f"{source}: no prediction matches a ground-truth query; expected {len(gt)} queries such as "
            f"{expected}; {got}; predictions match by qid, or by video and query text where they give them"
        )
    return loaded


def parse_predictions(text: str, gt: Sequence[GroundTruthItem], *, source: str = "<text>") -> LoadedPredictions:
    """Parse predictions text and match it to ``gt`` (see ``load_predictions``).

    Entries that match no ground-truth query are counted, not an error (a file may answer a larger split).

    Raises:
        EvalDataError: malformed record, or two predictions for the same query.
    """
    gt_by_qid = {item.qid: item for item in gt}
    by_key: dict[MatchKey, list[GroundTruthItem]] = {}
    for item in gt:
        by_key.setdefault(_item_key(item), []).append(item)

    by_qid: dict[str, Prediction] = {}
    where_qid: dict[str, str] = {}
    n_unmatched = 0
    unmatched_examples: list[str] = []
    provenances: list[Mapping[str, object]] = []

    def unmatched(description: str) -> None:
        nonlocal n_unmatched
        n_unmatched += 1
        if len(unmatched_examples) < MAX_EXAMPLES:
            unmatched_examples.append(description)

    def add(prediction: Prediction, where: str) -> None:
        if prediction.qid in by_qid:
            raise EvalDataError(
                f"{where}: second prediction for query {prediction.qid!r} "
                f"(first at {where_qid[prediction.qid]}); expected one per query"
            )
        by_qid[prediction.qid] = prediction
        where_qid[prediction.qid] = where

    for where, record in _records(text, source):
        if "pred_relevant_windows" in record:
            prediction = _qvhighlights_prediction(record, where)
            named_video, named_query = _record_video_query(record)
            key = _match_key(named_video, named_query)
            target = _match_record(prediction.qid, key, gt_by_qid, by_key, answered=by_qid)
            if target is None:
                unmatched(_describe(record.get("qid"), named_video, named_query))
            else:
                add(replace(prediction, qid=target.qid), where)
        elif "results" in record:
            video = record.get("video")
            results = record["results"]
            if not isinstance(video, str) or not isinstance(results, list):
                raise EvalDataError(f"{where}: expected vidground output with a 'video' string and a 'results' list")
            provenance = record.get("provenance")
            if isinstance(provenance, dict):
                provenances.append(provenance)
            for index, result in enumerate(results):
                at = f"{where} result {index}"
                query, spans, parsed, latency_s = _vidground_result(result, at)
                matches = by_key.get((video_key(video), query_key(query)), [])
                if not matches:
                    unmatched(_describe(None, video, query))
                for item in matches:
                    add(Prediction(item.qid, spans, parsed, latency_s), at)
        else:
            raise EvalDataError(
                f"{where}: expected a QVHighlights record with 'pred_relevant_windows' or vidground "
                f"output with 'results', got keys {sorted(record)[:8]}"
            )
    return LoadedPredictions(by_qid, n_unmatched, summarize_provenance(provenances), tuple(unmatched_examples))


def _item_key(item: GroundTruthItem) -> MatchKey:
    return (video_key(item.video), query_key(item.query))


def _match_key(video: str | None, query: str | None) -> MatchKey | None:
    return None if video is None or query is None else (video_key(video), query_key(query))


def _match_record(
    qid: str,
    key: MatchKey | None,
    gt_by_qid: Mapping[str, GroundTruthItem],
    gt_by_key: Mapping[MatchKey, Sequence[GroundTruthItem]],
    *,
    answered: Mapping[str, Prediction],
) -> GroundTruthItem | None:
    """The ground-truth query a QVHighlights-style record answers, or None.

    Its qid, unless the record's video and query (``key``, when it gives them) name another ground-truth query
    or another video: files from other tools number queries 0, 1, ... by line, so an equal qid can be a
    coincidence. Otherwise its video and query; where several ground-truth queries share them (a sentence
    repeated in one video), the first not yet answered. For example, with ground truth ``{"qid": 7803,
    "vid": "a", "query": "Man walks in."}``, the record ``{"qid": 0, "vid": "a", "query": "man walks in."}``
    answers 7803, and so does ``{"qid": 7803}``; ``{"qid": 7803, "vid": "b", "query": "x"}`` answers nothing.
    """
    item = gt_by_qid.get(qid)
    if item is not None and (
        key is None or key == _item_key(item) or (key not in gt_by_key and key[0] == video_key(item.video))
    ):
        return item
    candidates = gt_by_key.get(key, ()) if key is not None else ()
    # When every candidate is answered, return the first anyway so the caller reports the duplicate.
    return next((c for c in candidates if c.qid not in answered), candidates[0] if candidates else None)


def _record_video_query(record: Mapping[str, object]) -> tuple[str | None, str | None]:
    """A QVHighlights-style record's video (``vid`` or ``video``) and query text, where it gives them."""
    video = record.get("vid", record.get("video"))
    if isinstance(video, int) and not isinstance(video, bool):
        video = str(video)
    query = record.get("query")
    return (
        video if isinstance(video, str) and video.strip() else None,
        query if isinstance(query, str) and query.strip() else None,
    )


def _describe(qid: object, video: str | None, query: str | None) -> str:
    """One entry for a message: ``qid 0 (video 'abc', query 'a man walks in')``, long queries cut."""
    if query is not None and len(query) > 40:
        query = query[:37] + "..."
    where = ", ".join(f"{name} {value!r}" for name, value in (("video", video), ("query", query)) if value)
    if qid is None:
        return where
    return f"qid {qid!r}" + (f" ({where})" if where else "")


def prediction_record(item: GroundTruthItem, prediction: Prediction) -> dict[str, object]:
    """The runner's cache line for one prediction: QVHighlights-compatible, so the cache can be re-scored."""
    return {
        "qid": item.qid,
        "video": item.video,
        "query": item.query,
        "pred_relevant_windows": [[span.start_s, span.end_s, span.score] for span in prediction.spans],
        "parsed": prediction.parsed,
        "latency_s": prediction.latency_s,
    }


def summarize_provenance(provenances: Iterable[Mapping[str, object]]) -> dict[str, object]:
    """Merge per-video provenance into one dict of its scalar fields.

    A field with one value across videos keeps it; a field that differs becomes the list of its distinct
    values in first-seen order. Lists and objects (frame timestamps, windows) are per-video detail and are
    left out.
    """
    values: dict[str, list[object]] = {}
    for provenance in provenances:
        for key, value in provenance.items():
            if value is None or isinstance(value, str | int | float | bool):
                seen = values.setdefault(key, [])
                if value not in seen:
                    seen.append(value)
    return {key: seen[0] if len(seen) == 1 else seen for key, seen in values.items()}


# --- record readers -----------------------------------------------------------------------------------------


def _records(text: str, source: str) -> list[tuple[str, Mapping[str, object]]]:
    """Each JSON object in the text and where it came from: a whole document, a list, or JSONL."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        document = None
    if isinstance(document, dict):
        return [(source, document)]
    if isinstance(document, list):
        items = list(enumerate(document))
        for index, record in items:
            if not isinstance(record, dict):
                raise EvalDataError(f"{source}: item {index}: expected a JSON object, got {type(record).__name__}")
        return [(f"{source}: item {index}", record) for index, record in items]
    records = [(f"{source}:{line_no}", record) for line_no, record in json_lines(text, source)]
    if not records and text.strip():
        raise EvalDataError(f"{source}: expected JSON or JSONL predictions")
    return records


def _qvhighlights_prediction(record: Mapping[str, object], where: str) -> Prediction:
    qid = record.get("qid")
    if not isinstance(qid, str | int) or isinstance(qid, bool):
        raise EvalDataError(f"{where}: expected 'qid' to be a string or integer, got {qid!r}")
    windows = record["pred_relevant_windows"]
    if not isinstance(windows, list):
        raise EvalDataError(f"{where}: expected 'pred_relevant_windows' to be a list, got {windows!r}")
    spans = []
    for window in windows:
        if not isinstance(window, list) or len(window) not in (2, 3):
            raise EvalDataError(f"{where}: expected a [start, end, score] window, got {window!r}")
        score = window[2] if len(window) == 3 else None
        spans.append(
            Span(
                _finite(window[0], "start", where),
                _finite(window[1], "end", where),
                None if score is None else _finite(score, "score", where),
            )
        )
    parsed = record.get("parsed", True)
    if not isinstance(parsed, bool):
        raise EvalDataError(f"{where}: expected 'parsed' to be true or false, got {parsed!r}")
    return Prediction(str(qid), tuple(spans), parsed, _latency(record, where))


def _vidground_result(result: object, where: str) -> tuple[str, tuple[Span, ...], bool, float | None]:
    if not isinstance(result, dict):
        raise EvalDataError(f"{where}: expected an object with query, found, spans")
    query = result.get("query")
    spans_value = result.get("spans", [])
    if not isinstance(query, str) or not isinstance(spans_value, list):
        raise EvalDataError(f"{where}: expected a 'query' string and a 'spans' list")
    spans = []
    for span in spans_value:
        if not isinstance(span, dict):
            raise EvalDataError(f"{where}: expected each span to be an object with start_s, end_s, score")
        score = span.get("score")
        spans.append(
            Span(
                _finite(span.get("start_s"), "start_s", where),
                _finite(span.get("end_s"), "end_s", where),
                None if score is None else _finite(score, "score", where),
            )
        )
    parsed = result.get("parsed", result.get("found", bool(spans)))
    if not isinstance(parsed, bool):
        raise EvalDataError(f"{where}: expected 'found'/'parsed' to be true or false, got {parsed!r}")
    return query, tuple(spans), parsed, _latency(result, where)


def _finite(value: object, what: str, where: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise EvalDataError(f"{where}: expected {what} to be a finite number, got {value!r}")


def _latency(record: Mapping[str, object], where: str) -> float | None:
    value = record.get("latency_s")
    return None if value is None else _finite(value, "latency_s", where)
