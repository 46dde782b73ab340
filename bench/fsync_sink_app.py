"""The baseline of ``python -m bench resumable``: the least an ASGI server can do with an upload.

``PUT /<name>`` streams the body to ``$SINK_DIR/<uuid>`` (nothing held in memory), fsyncs it and answers 201;
run it with ``uvicorn bench.fsync_sink_app:app`` and send a file with ``curl -T``.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

SINK = Path(os.environ.get("SINK_DIR", "/tmp"))


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = SINK / uuid.uuid4().hex
    size = 0
    with path.open("wb") as fh:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            fh.write(body)
            if not message.get("more_body"):
                break
        fh.flush()
        os.fsync(fh.fileno())
    await send({"type": "http.response.start", "status": 201,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(str(size))).encode())]})
    await send({"type": "http.response.body", "body": str(size).encode()})
