"""The upload peer of benchmarks/upload.py: FastAPI's documented ``UploadFile`` endpoint, the file copied to disk.

Starlette spools an upload to a temporary file (in memory up to 1 MB) while parsing the multipart body, then the
endpoint copies it to the storage folder: the bytes are written twice.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from fastapi import FastAPI, UploadFile

app = FastAPI()
STORAGE = Path(os.environ.get("PEER_UPLOAD_DIR", "/var/tmp/peer-upload"))


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/upload")
def upload(file: UploadFile) -> dict[str, int]:
    STORAGE.mkdir(parents=True, exist_ok=True)
    target = STORAGE / f"{uuid.uuid4().hex}.mp4"
    with target.open("wb") as out:
        shutil.copyfileobj(file.file, out, 1024 * 1024)
    return {"bytes": target.stat().st_size}
