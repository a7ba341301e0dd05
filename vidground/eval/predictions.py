"""Predictions for ``vidground eval``: QVHighlights-style submissions and vidground's ``locate`` output.

Accepted files (one JSON document, a JSON list, or JSONL; the kinds may not be mixed up within one record):

- QVHighlights records ``{"qid", "pred_relevant_windows": [[start, end, score], ...]}`` matched to the ground
  truth by ``qid``. ``score`` may be missing or null. Optional ``parsed`` (bool) and ``latency_s`` (number)
  are read too — the runner's resumable cache is this format.
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
from dataclasses import dataclass, field
from pathlib import Path

from vidground.errors import EvalDataError
from vidground.eval.groundtruth import GroundTruthItem, json_lines, query_key, video_key
from vidground.timeline import Span


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


def load_predictions(path: str | Path, gt: Sequence[GroundTruthItem]) -> LoadedPredictions:
    """Read a predictions file and match it to the ground truth.

    Args:
        path: QVHighlights-style or vidground JSON/JSONL (see the module docstring).
        gt: the ground truth the predictions answer.

    Raises:
        EvalDataError: unreadable file, malformed record, or two predictions for the same query.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalDataError(f"{source}: cannot read predictions: {exc}") from exc
    return parse_predictions(text, gt, source=source)


def parse_predictions(text: str, gt: Sequence[GroundTruthItem], *, source: str = "<text>") -> LoadedPredictions:
    """Parse predictions text and match it to ``gt`` (see ``load_predictions``)."""
    gt_qids = {item.qid for item in gt}
    by_key: dict[tuple[str, str], list[GroundTruthItem]] = {}
    for item in gt:
        by_key.setdefault((video_key(item.video), query_key(item.query)), []).append(item)

    by_qid: dict[str, Prediction] = {}
    where_qid: dict[str, str] = {}
    n_unmatched = 0
    provenances: list[Mapping[str, object]] = []

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
            if prediction.qid in gt_qids:
                add(prediction, where)
            else:
                n_unmatched += 1
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
                n_unmatched += not matches
                for item in matches:
                    add(Prediction(item.qid, spans, parsed, latency_s), at)
        else:
            raise EvalDataError(
                f"{where}: expected a QVHighlights record with 'pred_relevant_windows' or vidground "
                f"output with 'results', got keys {sorted(record)[:8]}"
            )
    return LoadedPredictions(by_qid, n_unmatched, summarize_provenance(provenances))


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
