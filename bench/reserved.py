"""Names that cannot be impersonated: the project's own teams, submission names and trust tags.

The board and the challenge ranking give the project's own submissions a role (the baselines a
track's constants are measured on, the references beside which a new model is read). That role must
not be claimable by a stranger who writes ``team: bench baselines`` or ``tags: [baseline]`` into a
manifest. So:

* **reserved teams**: every team of a submission shipped in the checkout's ``submissions/``
  (``bench baselines``, ``bench reference models``) and ``bench`` itself;
* **reserved names**: the names of the shipped submissions (``identity``, ``bicubic``, ``fsrcnn-x2``, ...);
* **reserved tags**: ``baseline`` and ``reference``.

Names are compared after NFKC normalisation, case folding and removal of everything that is not a
letter or digit, so ``Bench-Baselines``, ``bench  baselines`` or one with a zero-width space inside
are the same claim. A submission may make such a claim only when its folder lies inside the
checkout's ``submissions/`` (:func:`is_project_own`); elsewhere :func:`check_identity` refuses it
before anything is stored. Since only the project's folders can be stored under a reserved team,
a stored entry with a reserved team *and* the ``baseline`` tag is a baseline the board may trust
(:func:`trusted_baseline`); a tag alone never is.
"""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path

import yaml

from bench.errors import SubmissionError
from bench.paths import SUBMISSIONS_DIR

RESERVED_TAGS = frozenset({"baseline", "reference"})


def normalised(text: str) -> str:
    """``text`` as compared for impersonation: NFKC, case-folded, letters and digits only."""
    return "".join(c for c in unicodedata.normalize("NFKC", text).casefold() if c.isalnum())


@functools.cache
def _shipped(root: Path = SUBMISSIONS_DIR) -> tuple[frozenset[str], frozenset[str]]:
    """Normalised (teams, names) of the submissions shipped under ``root``."""
    teams, names = {normalised("bench")}, set()
    for manifest in sorted(root.glob("*/*/submission.yaml")):
        raw = yaml.safe_load(manifest.read_text()) or {}
        teams.add(normalised(str(raw.get("team", ""))))
        names.add(normalised(str(raw.get("name", ""))))
    return frozenset(teams - {""}), frozenset(names - {""})


def reserved_team(team: str) -> bool:
    return normalised(team) in _shipped()[0]


def claims(name: str, team: str, tags: list[str]) -> list[str]:
    """What a manifest claims that only the project may: in words, empty when nothing."""
    teams, names = _shipped()
    found = []
    if normalised(team) in teams:
        found.append(f"team {team!r}")
    if normalised(name) in names:
        found.append(f"name {name!r}")
    found += [f"tag {tag!r}" for tag in tags if normalised(tag) in RESERVED_TAGS]
    return found


def is_project_own(folder: Path) -> bool:
    """Whether ``folder`` is one of the project's own submissions (inside the checkout's ``submissions/``)."""
    return folder.resolve().is_relative_to(SUBMISSIONS_DIR.resolve())


def check_identity(folder: Path, name: str, team: str, tags: list[str]) -> None:
    """Refuse a submission outside the project's ``submissions/`` that claims a reserved team, name or tag."""
    claimed = claims(name, team, tags)
    if claimed and not is_project_own(folder):
        raise SubmissionError(
            f"submission {folder} claims {', '.join(claimed)}, reserved for the project's own baselines and "
            "references (the folders under submissions/ of the bench checkout); give it a name and team of "
            "your own and drop the baseline/reference tags (for a model trained with a project recipe, set "
            "export.team and export.name in the recipe, or edit submission.yaml)"
        )


def trusted_baseline(team: str, tags: list[str]) -> bool:
    """Whether a stored entry is one of the project's baselines: a reserved team (which only the project's
    folders can be stored under) and the ``baseline`` tag; a self-declared tag alone is not enough."""
    return reserved_team(team) and any(normalised(t) == "baseline" for t in tags)
