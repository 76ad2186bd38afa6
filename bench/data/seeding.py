"""Per-image random generators that give the same numbers on every machine.

The seed of one image is derived from the task's seed and the image id with SHA-256 (never
Python's salted ``hash``), and feeds numpy's PCG64 bit generator, whose stream is fixed by spec.
"""

from __future__ import annotations

import hashlib

import numpy as np


def image_seed(task_seed: int, image_id: str, purpose: str = "") -> int:
    """A 64-bit seed from (task seed, image id, purpose), stable across runs and machines."""
    digest = hashlib.sha256(f"{task_seed}:{purpose}:{image_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def image_rng(task_seed: int, image_id: str, purpose: str = "") -> np.random.Generator:
    """``numpy.random.Generator(PCG64(image_seed(...)))``."""
    return np.random.Generator(np.random.PCG64(image_seed(task_seed, image_id, purpose)))
