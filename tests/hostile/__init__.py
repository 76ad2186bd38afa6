"""The corpus of hostile submissions and inputs: each case builds, in an empty folder, what a stranger would
send (and the command that meets it), and names the words its one-paragraph refusal must contain.

A case is a function ``(root) -> Attempt`` registered with :func:`tests.hostile.base.case`, in the module of
its kind (manifest, files, graphs, running, environment, tensorflow). ``root`` holds nothing but a copy of a store with
one finished result; a case that would run code leaves ``root / "pwned"`` behind, which the runner checks
never appears. tests/test_hostile.py runs every case as a real ``python -m bench.cli`` process and checks
exit 2, no traceback, time, memory and the store.
"""

from tests.hostile import environment, files, graphs, manifest, running, tensorflow  # noqa: F401  (they register the cases)
from tests.hostile.base import CASES, IDENTITY

__all__ = ["CASES", "IDENTITY"]
