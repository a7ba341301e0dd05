"""The workers' tasks: thin shells that claim a job row, call the library, and write rows and end state together.

Every job task follows the same path (:func:`_run_job`):

1. **Claim** the row (``jobs.claim``: running, attempts + 1). A finished or cancelled job returns at once, so a
   message delivered twice does the work once; a job past ``max_attempts`` (its worker died each time) fails.
2. **Work**: ``ingest_file`` or ``pipeline.locate`` with the process's one runner (``workers.runtime``), progress
   written to the row (which is also the heartbeat the sweeper reads); a cancel is noticed at the next progress step.
3. **Finish** in ONE transaction: the analysis rows and the job's end state. A job cancelled meanwhile rolls its
   rows back; a job run again replaces its analysis (``replace_analysis_in``), never duplicates it.

Errors: a :class:`~vidground.errors.VidgroundError` (bad file, bad request) fails the job with its message and is
not retried; anything else fails the job with the exception named and propagates (Celery logs the traceback).
Transient failures are tried again with backoff (1, 2, 4, 8, 16 s; :func:`_retry_later`): the database gone (the
row stays running; the retry claims it again), and a CUDA out-of-memory once (the cache is emptied first; a second
one fails the job with what to lower). Retries travel as new messages through this module's app, with the count
in the message, and do not count against the job's ``max_attempts`` (which counts workers that died). Where even the
broker is down, the task ends and the sweeper requeues the row once it is stale. Publishing itself retries with
backoff (``task_publish_retry_policy`` in :mod:`workers.app`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from vidground import jobs
from vidground.errors import ConfigError, VidgroundError
from vidground.index.records import (
    DEFAULT_TENANT,
    AnalysisKind,
    AnalysisRecord,
    NewVideo,
    ShotRecord,
    VideoRecord,
    VideoStatus,
)
from vidground.index.sql.engine import first_line
from vidground.jobs import JobKind, JobRecord, JobStatus, ModelWork
from workers.app import ROUTES, QueueName, TaskName, app, enqueue
from workers.runtime import WorkerRuntime, runtime

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from vidground.index.sql.store import PostgresStore
    from vidground.options import AnalysisOptions
    from vidground.results import Stage

logger = logging.getLogger(__name__)

TASK_OF_KIND = {JobKind.INGEST: TaskName.INGEST, JobKind.LOCATE: TaskName.LOCATE}
TRANSIENT_RETRIES = 5
RETRY_CAP_S = 60.0
WEBHOOK_TRIES = 5
WEBHOOK_TIMEOUT_S = 10.0

Progress = Callable[["Stage", int, int], None]


class JobCancelled(Exception):
    """The job was cancelled while it ran: stop and write nothing."""


class TransientFailure(Exception):
    """The job met a failure that may pass (``reason``): try it again later rather than fail it."""

    def __init__(self, reason: str, *, cuda_oom: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.cuda_oom = cuda_oom


@app.task(name=str(TaskName.INGEST))  # type: ignore[untyped-decorator]  # celery has no type hints
def ingest(job_id: int, retries: int = 0, oom_retried: bool = False) -> None:
    """Ingest one file (request ``{path, queries, captions}``): captions, standing queries, subtitles, embeddings."""
    _run_job(TaskName.INGEST, job_id, _ingest_job, retries=retries, oom_retried=oom_retried)


@app.task(name=str(TaskName.LOCATE))  # type: ignore[untyped-decorator]
def locate(job_id: int, retries: int = 0, oom_retried: bool = False) -> None:
    """Ground queries (request ``{queries}``) in the job's video; the answers become its ``locate`` analysis."""
    _run_job(TaskName.LOCATE, job_id, _locate_job, retries=retries, oom_retried=oom_retried)


@app.task(name=str(TaskName.SWEEP))  # type: ignore[untyped-decorator]
def sweep() -> dict[str, list[int]]:
    """Requeue jobs stuck in running past the hard time limit (their worker died) or fail those out of attempts."""
    rt = runtime()
    settings = rt.settings
    engine = rt.store.engine
    requeued, failed = jobs.requeue_stale(
        engine, older_than_s=settings.task_time_limit_s + settings.visibility_margin_s
    )
    for job_id in requeued:
        enqueue(TASK_OF_KIND[jobs.get(engine, job_id).kind], job_id)
    if requeued or failed:
        logger.warning("sweep requeued=%s failed=%s", requeued, failed)
    return {"requeued": requeued, "failed": failed}


@app.task(name=str(TaskName.SCAN))  # type: ignore[untyped-decorator]
def scan() -> dict[str, Any]:
    """Scan VIDGROUND_INGEST_SOURCES: one ingest job per new file, the run recorded (``workers.scan``)."""
    from workers.scan import scan as scan_sources

    rt = runtime()
    options = rt.settings.options()
    run = scan_sources(
        rt.store.engine,
        rt.store,
        sources=rt.settings.ingest_sources,
        tenant=DEFAULT_TENANT,
        options=options.to_json(),
        params_hash=options.params_hash(),
        enqueue=lambda job_id: enqueue(TaskName.INGEST, job_id),
    )
    return {"run_id": run.id, "counts": run.counts()}


@app.task(name=str(TaskName.WEBHOOK))  # type: ignore[untyped-decorator]
def webhook(job_id: int, attempt: int = 1) -> None:
    """POST a finished job's signed payload to its webhook URL (``vidground.webhooks``); retried with backoff
    (``webhook_retry_base_s`` x 1, 3, 9, 27) on a connection error, a timeout, 408, 429 or 5xx. Each attempt's
    outcome is kept in the job's ``result["webhook"]``."""
    import httpx

    from vidground import keys, webhooks

    rt = runtime()
    engine = rt.store.engine
    job = jobs.get(engine, job_id)
    key_id = job.request.get("api_key_id")
    if job.webhook_url is None or not isinstance(key_id, int):
        logger.warning("job_id=%s webhook not sent: no webhook_url or no API key to sign with", job_id)
        return
    body = webhooks.payload(job)
    status_code: int | None = None
    try:
        response = httpx.post(
            job.webhook_url, content=body, headers=webhooks.headers(keys.webhook_secret(engine, key_id), body),
            timeout=WEBHOOK_TIMEOUT_S,
        )  # fmt: skip
        status_code = response.status_code
        error = None if response.is_success else f"HTTP {status_code}"
    except httpx.HTTPError as exc:  # connection refused, timeout, bad URL: nothing came back
        error = f"{type(exc).__name__}: {exc}"
    retryable = error is not None and (status_code is None or status_code >= 500 or status_code in (408, 429))
    will_retry = retryable and attempt < WEBHOOK_TRIES
    webhooks.record_delivery(engine, job_id, {
        "delivered": error is None, "attempts": attempt, "status_code": status_code, "error": error,
        "retrying": will_retry,
    })  # fmt: skip
    if error is None:
        logger.info("job_id=%s webhook delivered attempt=%s", job_id, attempt)
        return
    logger.warning("job_id=%s webhook attempt=%s failed: %s", job_id, attempt, error)
    if will_retry:
        # A new message through this module's app, not ``self.retry``: in a spawn pool process the task's bound app
        # is an unpickled copy without the broker settings (read lazily from the environment), so its retry went
        # to the default broker and was lost.
        countdown_s = rt.settings.webhook_retry_base_s * 3 ** (attempt - 1)
        app.send_task(
            str(TaskName.WEBHOOK), args=[job_id, attempt + 1], queue=str(QueueName.CPU), countdown=countdown_s
        )


# -- the path of every job --------------------------------------------------------------------------------------

JobWork = Callable[[WorkerRuntime, JobRecord, Progress], None]


def _run_job(task: TaskName, job_id: int, work: JobWork, *, retries: int, oom_retried: bool) -> None:
    """Run one delivery of a job; a transient failure sends the task again with backoff (:func:`_retry_later`)."""
    try:
        _run_claimed(job_id, work, retries=retries)
    except TransientFailure as failure:
        _retry_later(task, job_id, failure, retries=retries, oom_retried=oom_retried)
    except OperationalError as exc:  # the claim, a progress write or the final transaction: the database went away
        _retry_later(task, job_id, TransientFailure(f"database unavailable ({first_line(exc.orig or exc)})"),
                     retries=retries, oom_retried=oom_retried)  # fmt: skip


def _retry_later(task: TaskName, job_id: int, failure: TransientFailure, *, retries: int, oom_retried: bool) -> None:
    """Send the job's task again after 1, 2, 4 ... s (at most ``RETRY_CAP_S``); past ``TRANSIENT_RETRIES``, or a
    second CUDA out-of-memory, fail the job with the reason. When the broker cannot take the message either, raise:
    the task ends, the row stays running, and the sweeper requeues it once it is stale."""
    engine = runtime().store.engine
    if failure.cuda_oom and oom_retried:
        _fail_quietly(engine, job_id, f"job {job_id}: out of GPU memory twice ({failure.reason}); lower the frame or "
                      "token budget (--max-frames, --max-tokens / VIDGROUND_MAX_FRAMES, VIDGROUND_MAX_TOKENS) or "
                      "the batch size, or run on a larger GPU")  # fmt: skip
        return
    if retries >= TRANSIENT_RETRIES:
        _fail_quietly(engine, job_id, f"job {job_id}: gave up after {retries} retries: {failure.reason}")
        return
    countdown_s = min(RETRY_CAP_S, 2.0**retries)
    logger.warning("job_id=%s transient failure, retry=%s in %.0f s: %s", job_id, retries + 1, countdown_s,
                   failure.reason)  # fmt: skip
    # Through this module's app, not ``self.retry``: in a spawn pool process a task's bound app is an unpickled copy
    # without the broker settings (read lazily from the environment), and its retries went to the default broker.
    app.send_task(
        str(task),
        args=[job_id],
        kwargs={"retries": retries + 1, "oom_retried": oom_retried or failure.cuda_oom},
        queue=str(ROUTES[task]),
        countdown=countdown_s,
    )


def _fail_quietly(engine: Engine, job_id: int, error: str) -> None:
    """Fail the job with ``error`` and announce it; with the database still down, log it and leave the row to the
    sweeper."""
    logger.warning("job_id=%s failed: %s", job_id, error)
    try:
        jobs.fail(engine, job_id, error)
        _announce(engine, jobs.get(engine, job_id))
    except OperationalError:
        logger.warning("job_id=%s could not be marked failed: the database is unavailable", job_id)


def _is_cuda_oom(exc: BaseException) -> bool:
    """torch's ``OutOfMemoryError`` (a CUDA allocation failed), told apart without importing torch."""
    return type(exc).__name__ == "OutOfMemoryError" and type(exc).__module__.split(".")[0] == "torch"


def _free_cuda_cache() -> None:
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def _run_claimed(job_id: int, work: JobWork, *, retries: int) -> None:
    rt = runtime()
    engine = rt.store.engine
    job = jobs.claim(engine, job_id)
    if job is None:
        logger.info("job_id=%s is finished, cancelled or gone: nothing to do", job_id)
        return
    if job.attempts - retries > job.max_attempts:  # claims by transient retries are not deaths
        jobs.fail(engine, job_id, f"gave up after {job.max_attempts} attempts: the worker died each time")
        logger.warning("job_id=%s gave up after %s attempts", job_id, job.max_attempts)
        _announce(engine, job)
        return
    logger.info("job_id=%s kind=%s attempt=%s started", job_id, job.kind, job.attempts)

    def on_progress(stage: Stage, done: int, total: int) -> None:
        jobs.progress(engine, job_id, stage=str(stage), done=done, total=total)
        if jobs.is_cancelled(engine, job_id):
            raise JobCancelled

    try:
        work(rt, job, on_progress)
    except JobCancelled:
        logger.info("job_id=%s cancelled while running: nothing written", job_id)
    except SoftTimeLimitExceeded:
        limit_s = rt.settings.task_soft_time_limit_s
        jobs.fail(engine, job_id, f"job {job_id}: ran longer than {limit_s:g} s (VIDGROUND_TASK_SOFT_TIME_LIMIT_S); "
                                  "raise the limit or split the video")  # fmt: skip
    except VidgroundError as exc:
        logger.info("job_id=%s failed: %s", job_id, exc)
        jobs.fail(engine, job_id, str(exc))
    except OperationalError:
        raise  # the database went away: retried (_run_job), the row is still running and is claimed again
    except Exception as exc:
        if _is_cuda_oom(exc):  # tried again once (_retry_later), with the cache emptied
            _free_cuda_cache()
            raise TransientFailure(f"CUDA out of memory: {first_line(exc)}", cuda_oom=True) from exc
        jobs.fail(engine, job_id, f"internal error: {type(exc).__name__}: {exc}")
        _announce(engine, job)
        raise
    _announce(engine, job)


def _announce(engine: Engine, job: JobRecord) -> None:
    """Send the job's webhook task when it has a webhook URL and has ended (succeeded, failed, or cancelled while
    it ran); a job retried after a lost database connection is still running and announces nothing yet."""
    if job.webhook_url is None or not jobs.get(engine, job.id).status.finished:
        return
    enqueue(TaskName.WEBHOOK, job.id)


def _finish(rt: WorkerRuntime, job: JobRecord, writes: Callable[[Session], None], *, status: JobStatus,
            result: Mapping[str, Any], error: str | None, started: float, work: ModelWork | None) -> None:  # fmt: skip
    """The job's rows (``writes``) and its end state in one transaction; nothing is kept when it was cancelled."""
    with Session(rt.store.engine) as session, session.begin():
        writes(session)
        timings_s = {"run": time.perf_counter() - started}
        if not jobs.finish_in(session, job.id, status, result=_storable(result), error=error, timings_s=timings_s,
                              work=work):  # fmt: skip
            raise JobCancelled  # rolls the rows back with the transaction
    logger.info("job_id=%s %s in %.1f s", job.id, status, time.perf_counter() - started)


def _options(rt: WorkerRuntime, job: JobRecord) -> AnalysisOptions:
    """The job's options as stored with it; a job that stored none takes this worker's configured knobs. Their
    torch thread count applies to this process from now on (as the CLI does for its one run)."""
    from vidground.options import AnalysisOptions

    options = AnalysisOptions.from_json(job.options) if job.options else rt.settings.options()
    if options.torch_threads is not None:
        import torch

        torch.set_num_threads(options.torch_threads)
    return options


def _queries(job: JobRecord) -> tuple[str, ...]:
    queries = job.request.get("queries") or ()
    if isinstance(queries, str) or not all(isinstance(q, str) for q in queries):
        raise ConfigError(f"job {job.id}: request.queries must be a list of strings, got {queries!r}")
    return tuple(queries)


def _subtitles(job: JobRecord) -> Path | None:
    """The subtitle file uploaded with the video (request ``subtitles``); None: those beside the video, if any."""
    given = job.request.get("subtitles")
    if given is None:
        return None
    if not isinstance(given, str) or not given:
        raise ConfigError(f"job {job.id}: request.subtitles must be a file path, got {given!r}")
    return Path(given)


# -- ingest -----------------------------------------------------------------------------------------------------


def _ingest_job(rt: WorkerRuntime, job: JobRecord, on_progress: Progress) -> None:
    from vidground.ingest import FileOutcome, IngestRequest, ingest_file

    started = time.perf_counter()
    path = job.request.get("path")
    if (not isinstance(path, str) or not path) and job.video_id is not None:
        # An upload's job: the API stored the file and registered the video; ingest it where it lies.
        path = rt.store.get_video(job.video_id, tenant=job.tenant).path
    if not isinstance(path, str) or not path:
        raise ConfigError(f"job {job.id}: an ingest job needs a file path or a video, got {path!r}")
    request = IngestRequest(
        model_id=rt.settings.model_id,
        model_revision=rt.settings.model_revision,
        queries=_queries(job),
        captions=bool(job.request.get("captions", True)),
        tenant=job.tenant,
        subtitles=_subtitles(job),
        # Speech, on-screen text and shots when the job asks for them (jobs made before they existed do not).
        speech=bool(job.request.get("speech", False)),
        ocr=bool(job.request.get("ocr", False)),
        shots=bool(job.request.get("shots", False)),
        speech_options=rt.settings.speech_options(),
        ocr_options=rt.settings.ocr_options(),
    )
    runner = rt.runner() if request.captions or request.queries else None
    deferred = DeferredWrites(rt.store)
    report = ingest_file(
        Path(path),
        request,
        store=deferred,
        embedder=rt.embedder,
        runner=runner,
        options=_options(rt, job),
        on_progress=lambda _path, stage, done, total: on_progress(stage, done, total),
        enrichers=rt.enrichers(),
    )
    failed = report.outcome is FileOutcome.FAILED
    result = {
        "video_id": report.video_id,
        "content_hash": report.content_hash,
        "outcome": str(report.outcome),
        "stored": [str(k) for k in report.stored],
        "skipped": [str(k) for k in report.skipped],
        "n_segments": report.n_segments,
        "notes": list(report.notes),
    }
    _finish(rt, job, deferred.write_in, status=JobStatus.FAILED if failed else JobStatus.SUCCEEDED,
            result=result, error=report.reason if failed else None, started=started,
            work=deferred.model_work())  # fmt: skip


class DeferredWrites:
    """An IndexStore for one ingest job: reads and registers the video at once (idempotent by content hash), but
    holds the analyses and the video's status until :meth:`write_in` puts them in the job's final transaction."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self._analyses: list[tuple[int, AnalysisRecord, list[list[float]], str]] = []
        self._statuses: list[tuple[int, VideoStatus, str | None]] = []

    def find_video(self, content_hash: str, *, tenant: str = DEFAULT_TENANT) -> VideoRecord | None:
        return self._store.find_video(content_hash, tenant=tenant)

    def add_video(self, video: NewVideo) -> VideoRecord:
        return self._store.add_video(video)

    def analysis_key(self, video_id: int, kind: AnalysisKind) -> str | None:
        return self._store.analysis_key(video_id, kind)

    def shots(self, video_id: int) -> list[ShotRecord]:
        return self._store.shots(video_id)

    def replace_analysis(
        self, video_id: int, analysis: AnalysisRecord, *, vectors: Sequence[Sequence[float]], embedder: str
    ) -> None:
        self._analyses.append((video_id, analysis, [list(v) for v in vectors], embedder))

    def set_status(self, video_id: int, status: VideoStatus, *, error: str | None = None) -> None:
        self._statuses.append((video_id, status, error))

    def list_videos(self, *, tenant: str = DEFAULT_TENANT) -> list[VideoRecord]:
        return self._store.list_videos(tenant=tenant)

    def forget(self, ref: str, *, tenant: str = DEFAULT_TENANT) -> VideoRecord:
        return self._store.forget(ref, tenant=tenant)

    def model_work(self) -> ModelWork | None:
        """The model work behind the held analyses: captions and standing queries share one walk over the video
        (one provenance), so the first model analysis tells it; None when no model ran."""
        for _video_id, analysis, _vectors, _embedder in self._analyses:
            if analysis.kind in (AnalysisKind.CAPTION, AnalysisKind.LOCATE) and analysis.provenance:
                return ModelWork.from_provenance(analysis.provenance)
        return None

    def write_in(self, session: Session) -> None:
        """Write what was held, in the caller's transaction."""
        for video_id, analysis, vectors, embedder in self._analyses:
            self._store.replace_analysis_in(session, video_id, analysis, vectors=vectors, embedder=embedder)
        for video_id, status, error in self._statuses:
            self._store.set_status_in(session, video_id, status, error=error)


# -- locate -----------------------------------------------------------------------------------------------------


def _locate_job(rt: WorkerRuntime, job: JobRecord, on_progress: Progress) -> None:
    from vidground import pipeline
    from vidground.index.records import analysis_key
    from vidground.index.sql.models import Video
    from vidground.ingest import locate_analysis
    from vidground.model.prompts import PROMPT_VERSION

    started = time.perf_counter()
    queries = _queries(job)
    if not queries:
        raise ConfigError(f"job {job.id}: a locate job needs at least one query")
    with Session(rt.store.engine) as session:
        video = None if job.video_id is None else session.get(Video, job.video_id)
        if video is None:
            raise ConfigError(f"job {job.id}: its video {job.video_id} is not in the index (deleted?)")
        video_id, path = video.id, Path(video.path)
    options = _options(rt, job)
    located = pipeline.locate(path, queries, runner=rt.runner(), options=options, on_progress=on_progress)
    key = analysis_key(
        AnalysisKind.LOCATE,
        params_hash=options.params_hash(),
        model_id=rt.settings.model_id,
        model_revision=rt.settings.model_revision,
        prompt_version=PROMPT_VERSION,
        queries=queries,
    )
    analysis = locate_analysis(located, key)
    vectors = rt.embedder.embed([s.searchable_text for s in analysis.segments])

    def writes(session: Session) -> None:
        rt.store.replace_analysis_in(session, video_id, analysis, vectors=vectors, embedder=rt.embedder.name)

    _finish(rt, job, writes, status=JobStatus.SUCCEEDED, result=located.to_json(), error=None, started=started,
            work=ModelWork.from_provenance(located.provenance.to_json()))  # fmt: skip


def _storable(value: Any) -> Any:
    """JSON that PostgreSQL accepts: a model's raw answer can hold NUL characters, which JSONB refuses."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, Mapping):
        return {str(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    return value
