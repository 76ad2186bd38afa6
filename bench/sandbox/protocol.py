"""The messages between the scorer and its sandboxed child: one JSON object per line, never pickle.

The scorer writes the request (and, after a probe, one control line) to the child's stdin; the child
writes its messages to a dedicated pipe (its stdout and stderr go to a log file, so nothing a runtime
prints can be taken for a message). Every message has a ``kind``:

* ``probed``: the probe checks passed (only when asked to probe first);
* ``image``: one scored image (``position``, ``image`` as :class:`~bench.results.ImageResult` JSON,
  ``crops`` with base64 PNGs or null);
* ``progress``: a label (an image id, or the latency phase) and the images done, for the display;
* ``result``: the finished :class:`~bench.results.Result` JSON;
* ``job-result``: the JSON result of a job (a request with ``job``: ``kind``, ``payload``, ``limits``;
  see :data:`bench.sandbox.child.JOBS`);
* ``error``: a failure, with the error class ``type`` (one of the user errors, else any name) and its
  one-paragraph ``message``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from bench.samples import SampleCrops

MAX_LINE_BYTES = 64 * 1024 * 1024  # a longer message is a broken or hostile child
PNGS = ("input_png", "output_png", "target_png")


def line(kind: str, **fields: Any) -> bytes:
    """One message as a JSON line."""
    return (json.dumps({"kind": kind, **fields}, allow_nan=True) + "\n").encode()


def crops_to_json(crops: SampleCrops | None) -> dict[str, Any] | None:
    if crops is None:
        return None
    pngs = {k: base64.b64encode(getattr(crops, k)).decode() for k in PNGS}
    return {"image_id": crops.image_id, "position": crops.position, "box": list(crops.box), **pngs}


def crops_from_json(raw: dict[str, Any] | None) -> SampleCrops | None:
    if raw is None:
        return None
    pngs = {k: base64.b64decode(raw[k], validate=True) for k in PNGS}
    return SampleCrops(str(raw["image_id"]), int(raw["position"]), tuple(int(v) for v in raw["box"]), **pngs)  # type: ignore[arg-type]
