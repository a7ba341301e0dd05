"""Prometheus metrics of one API app: requests by route and status (middleware); jobs by state, queue depth, model
latency and decoding speed (read at scrape time), on the app's own registry so two apps in one process never share
counters.

The workers run in other processes, often on other machines, so their figures come from where they already write
them: each finished job's row holds its frames decoded, model passes and seconds per stage. The API sums the jobs that
succeeded in the last ``RECENT`` and reports means over them:

- ``vidground_model_pass_seconds``: model seconds (vision encoding + generation) per model pass, one pass being one
  call over the video or one window of it;
- ``vidground_decode_frames_per_second``: frames decoded for the model per second of decoding (seeking included).

With no job in the window neither is reported (no sample, rather than a misleading 0).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, Float, func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vidground.index.sql.models import Job
from vidground.jobs import JobStatus
from vidground.results import Stage

logger = logging.getLogger(__name__)

QUEUES = ("gpu", "cpu")
RECENT = timedelta(minutes=15)
STAGES = (Stage.DECODE, Stage.ENCODE, Stage.GENERATE)


class Metrics:
    """The registry and the request metrics of one app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "vidground_http_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "vidground_http_request_duration_seconds",
            "Seconds from request to the response's first byte, by route template.",
            ["route"],
            registry=self.registry,
        )


class JobsCollector(Collector):
    """Jobs by state from the database, and (with a broker) the length of each Celery queue, at scrape time."""

    def __init__(self, engine: Engine, broker_url: str | None) -> None:
        self.engine = engine
        self.broker_url = broker_url

    def collect(self) -> Iterator[GaugeMetricFamily]:
        jobs = GaugeMetricFamily("vidground_jobs", "Jobs by state (database).", labels=["state"])
        try:
            with self.engine.connect() as connection:
                counts = dict(connection.execute(select(Job.status, func.count()).group_by(Job.status)).all())
        except Exception:  # a scrape must not fail because the database is down; /readyz says that
            logger.warning("metrics: jobs by state unavailable", exc_info=True)
            counts = None
        if counts is not None:
            for state in JobStatus:
                jobs.add_metric([str(state)], float(counts.get(str(state), 0)))
        yield jobs
        yield from self._work()
        if self.broker_url is not None:
            depth = GaugeMetricFamily(
                "vidground_queue_depth", "Messages waiting in each Celery queue.", labels=["queue"]
            )
            try:
                import redis

                client = redis.Redis.from_url(self.broker_url, socket_connect_timeout=0.5, socket_timeout=0.5)
                for queue in QUEUES:
                    depth.add_metric([queue], float(client.llen(queue)))
            except Exception:  # as above: the broker's state is /readyz's to report
                logger.warning("metrics: queue depth unavailable", exc_info=True)
            yield depth

    def _work(self) -> Iterator[GaugeMetricFamily]:
        """Model seconds per pass and frames decoded per second over the jobs that succeeded in the last RECENT."""
        by_stage = [func.coalesce(func.sum(Job.timings_s[str(s)].astext.cast(Float)), 0.0) for s in STAGES]
        query = select(
            func.coalesce(func.sum(Job.frames_decoded), 0), func.coalesce(func.sum(Job.model_passes), 0), *by_stage
        ).where(Job.status == str(JobStatus.SUCCEEDED), Job.finished_at > datetime.now(UTC) - RECENT)
        try:
            with self.engine.connect() as connection:
                frames, passes, *stage_s = connection.execute(query).one()
        except Exception:  # as for jobs by state
            logger.warning("metrics: model work unavailable", exc_info=True)
            return
        decode_s, encode_s, generate_s = (float(s) for s in stage_s)
        window = f" Over the jobs that succeeded in the last {RECENT.total_seconds() / 60:g} minutes."
        model = GaugeMetricFamily(
            "vidground_model_pass_seconds", "Model seconds (encode + generate) per model pass." + window
        )
        if passes:
            model.add_metric([], (encode_s + generate_s) / passes)
        yield model
        decode = GaugeMetricFamily(
            "vidground_decode_frames_per_second", "Frames decoded for the model per second of decoding." + window
        )
        if frames and decode_s > 0:
            decode.add_metric([], frames / decode_s)
        yield decode

    def describe(self) -> Iterator[Any]:
        return iter(())


class MetricsMiddleware:
    """Counts every response by the route template it matched (``/v1/videos/{video_id}``), never the raw path."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                route = _route(scope)
                self.metrics.latency.labels(route).observe(time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            self.metrics.requests.labels(_route(scope), scope.get("method", ""), str(status)).inc()


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
