"""The service's background commands: ``worker``, ``beat`` and ``ingest-runs``.

Registered on the main app by :func:`register` (called from ``vidground/cli_index.py``). ``worker`` and ``beat``
start the Celery programs of ``workers/`` from the one Settings; they import ``workers`` only when run, so the rest
of the CLI never loads Celery.
"""

# No ``from __future__ import annotations``: typer reads the commands' annotations.
import json
from typing import Annotated

import typer

from vidground.errors import ConfigError


def register(app: typer.Typer) -> None:
    """Add the worker, beat and ingest-runs commands to the main app."""
    from vidground import cli
    from vidground.cli_index import ListFormat

    epilog = cli._epilog

    @app.command(
        epilog=epilog(
            "vidground worker                          # both queues, one process (one per GPU)",
            "vidground worker --queues gpu --concurrency 2",
            "vidground worker --queues cpu",
        )
    )
    def worker(
        queues: Annotated[
            str, typer.Option("--queues", "-Q", help="Comma-separated queues to take jobs from: gpu, cpu.")
        ] = "gpu,cpu",
        concurrency: Annotated[
            int | None,
            typer.Option(
                "--concurrency",
                "-c",
                min=1,
                help="Worker processes (one per GPU). [default: VIDGROUND_WORKER_CONCURRENCY]",
            ),
        ] = None,
    ) -> None:
        """Run a Celery worker: jobs from the queues, one model per process, loaded on its first job."""
        from workers.app import QueueName
        from workers.app import app as celery_app

        settings = cli._settings()
        names = [q.strip() for q in queues.split(",") if q.strip()]
        known = [str(q) for q in QueueName]
        unknown = [q for q in names if q not in known]
        if unknown or not names:
            raise ConfigError(f"--queues {queues!r}: unknown queue {', '.join(unknown) or '(none given)'}; "
                              f"give some of {', '.join(known)}")  # fmt: skip
        celery_app.worker_main(
            [
                "worker",
                "--queues", ",".join(names),
                "--concurrency", str(concurrency or settings.worker_concurrency),
                "--loglevel", str(settings.log_level),
                "--without-gossip", "--without-mingle",
            ]
        )  # fmt: skip

    @app.command(epilog=epilog("vidground beat"))
    def beat() -> None:
        """Run Celery beat: the stale-job sweeper and the scheduled scans of VIDGROUND_INGEST_SOURCES."""
        from workers.app import app as celery_app

        settings = cli._settings()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        celery_app.start(
            ["beat", "--loglevel", str(settings.log_level), "--schedule", str(settings.data_dir / "beat-schedule")]
        )

    @app.command("ingest-runs", epilog=epilog("vidground ingest-runs", "vidground ingest-runs --format json"))
    def ingest_runs(
        limit: Annotated[int, typer.Option("--limit", min=1, help="How many runs, newest first.")] = 20,
        fmt: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format. [default: table]")] = (
            ListFormat.TABLE
        ),
    ) -> None:
        """List the scheduled ingestion runs (newest first) with their per-file outcomes."""
        from vidground.cli_index import open_store
        from workers.scan import list_runs

        runs = list_runs(open_store(cli._settings()).engine, limit=limit)
        if fmt is ListFormat.JSON:
            cli.out.print_json(json.dumps([r.to_json() for r in runs]))
            return
        if not runs:
            cli.out.print("no ingestion runs yet (set VIDGROUND_INGEST_SOURCES and run `vidground beat`)")
            return
        for run in runs:
            counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(run.counts().items())) or "no files"
            cli.out.print(f"{run.id:>5}  {run.started_at:%Y-%m-%d %H:%M:%S}  {run.status:<9} {counts}", markup=False)
