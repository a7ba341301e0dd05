"""Scheduled batch ingestion: a scan makes one ingest job per new file and records the run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.workers.conftest import REPO
from vidground.cli_index import open_store
from vidground.index.records import NewVideo
from vidground.ingest import hash_file
from vidground.jobs import JobStatus
from vidground.settings import Settings
from workers.scan import ScanOutcome, list_runs, scan


def test_scan_queues_new_files_once_skips_known_content_and_records_each_run(
    pg_database: str, tmp_path: Path, bikes_video: Path, cfr_video: Path
) -> None:
    store = open_store(Settings(database_url=pg_database), migrate=True)
    folder = tmp_path / "footage"
    folder.mkdir()
    shutil.copy(bikes_video, folder / "bikes.mp4")
    (folder / "notes.txt").write_text("not footage")
    manifest = tmp_path / "list.txt"
    manifest.write_text(f"{cfr_video}\n# a comment\n")
    sources = [str(folder / "*.mp4"), str(manifest), str(tmp_path / "missing" / "*.mp4")]
    sent: list[int] = []  # what would go to the broker

    def run() -> dict[str, ScanOutcome]:
        record = scan(store.engine, store, sources=sources, tenant="default", options={}, params_hash="-",
                      enqueue=sent.append)  # fmt: skip
        return {Path(f.path).name: f.outcome for f in record.files}

    assert run() == {"bikes.mp4": ScanOutcome.QUEUED, "cfr30.mp4": ScanOutcome.QUEUED, "*.mp4": ScanOutcome.FAILED}
    assert len(sent) == 2
    # The jobs are still queued: the next scan does not make them again.
    assert run()["bikes.mp4"] is ScanOutcome.PENDING and len(sent) == 2
    # Once the content is in the index (under any name), it is known.
    content_hash, size = hash_file(bikes_video)
    store.add_video(NewVideo(content_hash=content_hash, path="/elsewhere/b.mp4", size_bytes=size, duration_s=10.0,
                             fps=25.0, width=640, height=272, probe={}))  # fmt: skip
    from vidground import jobs

    for job_id in sent:
        jobs.cancel(store.engine, job_id)
    assert jobs.get(store.engine, sent[0]).status is JobStatus.CANCELLED
    outcomes = run()
    assert outcomes["bikes.mp4"] is ScanOutcome.KNOWN
    assert outcomes["cfr30.mp4"] is ScanOutcome.QUEUED and len(sent) == 3

    runs = list_runs(store.engine)
    assert [r.counts() for r in runs] == [
        {"known": 1, "queued": 1, "failed": 1},
        {"pending": 2, "failed": 1},
        {"queued": 2, "failed": 1},
    ]
    assert all(r.status == "succeeded" and r.finished_at is not None for r in runs)

    entry = "import sys; from vidground.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": str(REPO), "VIDGROUND_DATABASE_URL": pg_database}
    command = [sys.executable, "-c", entry, "ingest-runs", "--format", "json"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert [r["id"] for r in listed] == [r.id for r in runs]
    assert listed[0]["files"][0]["outcome"] in {"known", "queued", "failed"}
