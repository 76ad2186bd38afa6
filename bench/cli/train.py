"""``bench train RECIPE``: train a reference model from a YAML recipe; parsing and printing only."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from bench.cli.common import out
from bench.training.command import add_arguments, prepare, summary


def cmd_train(args: argparse.Namespace) -> int:
    from bench.training import train

    result = train(*prepare(args, shlex.join(["bench", *sys.argv[1:]])))  # user errors: exit 2 in bench.cli.main
    for line in summary(result):
        out.print(line, highlight=False, soft_wrap=True)
    return 0


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("train", help="train a reference model from a recipe (see docs/training.md)")
    add_arguments(parser)
    parser.set_defaults(func=cmd_train)
