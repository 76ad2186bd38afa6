"""The provenance part of a searched model's card: hardware, software, weights hash, command and recipe.

Shared by ``bench optimize nas`` and ``bench optimize portable``, whose cards otherwise report
their own search; the rows match those of :func:`bench.training.export.export_submission`.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import torch
import yaml

from bench.provenance import environment
from bench.submission_writer import WEIGHTS, Weights
from bench.training.export import hardware
from bench.training.recipe import Recipe


def provenance_rows(weights: Weights, device: torch.device) -> str:
    """Markdown table rows: hardware, software, weights file and its sha256."""
    env = environment()
    return (
        f"| hardware | {hardware(device)} |\n"
        f"| software | bench {env['bench_version']}, git {env['git_commit']}, python {env['python']} |\n"
        f"| weights | `{WEIGHTS}`, sha256 `{weights.sha256}` |\n"
    )


def command_and_recipe(recipe: Recipe) -> str:
    """The ``## Command`` (this process's command line) and ``## Recipe`` sections."""
    command = shlex.join(["bench", *sys.argv[1:]]) if Path(sys.argv[0]).name == "bench" else shlex.join(sys.argv)
    recipe_yaml = yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False).rstrip()
    return f"## Command\n\n```\n{command}\n```\n\n## Recipe\n\n```yaml\n{recipe_yaml}\n```\n"
