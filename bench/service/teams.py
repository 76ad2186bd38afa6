"""Submitter identities: a team is a name and a token; the store keeps only the token's sha256.

A token is ``bench_`` and 32 random bytes (``secrets.token_urlsafe``), shown once by ``bench team create``. A
submission's ``team`` must be the token's team, and its ``name`` belongs to the first team that
submits it (names compared as :func:`bench.reserved.normalised` compares them), so nobody can submit
under another team or take over another team's model name. The project's reserved names and teams
(:mod:`bench.reserved`) cannot be created or submitted at all.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bench.errors import ServiceError
from bench.reserved import normalised, reserved_team
from bench.store import Store
from bench.store.models import NameRow, TeamRow

TOKEN_ENV = "BENCH_TOKEN"


@dataclass(frozen=True)
class Team:
    id: int
    name: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_team(store: Store, name: str) -> str:
    """Create team ``name``; returns its token (shown once: only its hash is stored)."""
    name = name.strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise ServiceError(f"a team name is 1 to 100 printable characters, not {name[:120]!r}")
    if reserved_team(name):
        raise ServiceError(f"team {name!r} is reserved for the project's own submissions; choose another name")
    token = "bench_" + secrets.token_urlsafe(
        32
    )  # a prefix: never mistaken for an option ("-...") or a secret of another kind
    try:
        with Session(store.engine) as session, session.begin():
            taken = session.scalars(select(TeamRow.name)).all()
            if any(normalised(t) == normalised(name) for t in taken):
                raise ServiceError(f"team {name!r} exists already")
            session.add(TeamRow(name=name, token_sha256=_digest(token), created_at=datetime.now(UTC)))
    except IntegrityError:
        raise ServiceError(f"team {name!r} exists already") from None
    return token


def team_of(store: Store, token: str | None) -> Team:
    """The team whose token is ``token``; a missing or wrong token is refused."""
    if not token:
        raise ServiceError(f"give the team token: --token TOKEN or ${TOKEN_ENV} (bench team create NAME prints one)")
    with Session(store.engine) as session:
        row = session.scalar(select(TeamRow).where(TeamRow.token_sha256 == _digest(token)))
    if row is None:
        raise ServiceError("the team token is not valid for this store")
    return Team(row.id, row.name)


def claim_name(session: Session, team: Team, name: str) -> None:
    """Make ``name`` the team's (inside the caller's transaction); refused when another team owns it."""
    key = normalised(name)
    owner = session.scalar(select(NameRow.team_id).where(NameRow.name == key))
    if owner is None:
        session.add(NameRow(name=key, team_id=team.id))
        session.flush()
    elif owner != team.id:
        raise ServiceError(f"the submission name {name!r} belongs to another team; give your model another name")
