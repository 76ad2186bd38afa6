"""``python -m bench.training RECIPE [options]``: ``bench train`` without the rest of the CLI.

For machines that have only the training dependencies (e.g. a GPU box with its own torch:
``PYTHONPATH=. python3 -m bench.training recipes/fsrcnn-x2.yaml``). Same options as ``bench train``.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from bench.errors import USER_ERRORS
from bench.training import train
from bench.training.command import add_arguments, prepare, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.training", description="Train a model from a recipe.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    command = shlex.join(["python3", "-m", "bench.training", *(sys.argv[1:] if argv is None else argv)])
    try:
        result = train(*prepare(args, command))
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in summary(result):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
