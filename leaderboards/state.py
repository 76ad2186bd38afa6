"""The board's view state <-> the URL's query parameters.

Every widget that shapes a view has a key; on a session's first run its value comes from the
query parameter of the same name (when it is a valid choice), and after every run the URL is
rewritten to hold exactly the current view, so a copied URL reproduces it. Lists are written
comma-separated (``?devices=cpu-torch,cpu-tflite``), dates as ``YYYY-MM-DD``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

import streamlit as st

from leaderboards.frames import parse_day

PAGES = {"overview": "Overview", "task": "Task", "submission": "Submission", "challenge": "Challenge",
         "how": "How to submit", "submit": "Submit", "queue": "Queue"}  # fmt: skip
_URL_KEY = "_url_values"  # per-session (module globals are shared by every browser session)


def db_argument(argv: Sequence[str]) -> str | None:
    """The ``--db URL`` given after ``streamlit run app.py --``; other arguments are ignored."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--db", default=None)
    known, _ = parser.parse_known_args(list(argv))
    db: str | None = known.db
    return db


def query_text(key: str) -> str | None:
    value = st.query_params.get(key)
    return None if value is None else str(value)


def seed_choice(key: str, options: Sequence[Any], parse: Callable[[str], Any] = str) -> None:
    """Before a single-choice widget: take its value from the URL on first sight; drop a stale value."""
    if key in st.session_state and st.session_state[key] not in options:
        del st.session_state[key]
    if key not in st.session_state and (text := query_text(key)) is not None:
        try:
            value = parse(text)
        except ValueError:
            return
        if value in options:
            st.session_state[key] = value


def seed_many(key: str, options: Sequence[str]) -> None:
    """Before a multiselect: take its values from the URL on first sight; drop values no longer offered."""
    if key in st.session_state:
        st.session_state[key] = [v for v in st.session_state[key] if v in options]
    elif (text := query_text(key)) is not None:
        st.session_state[key] = [v for v in text.split(",") if v in options]


def seed_day(key: str) -> None:
    if key not in st.session_state and (day := parse_day(query_text(key))) is not None:
        st.session_state[key] = day


def publish(**values: Any) -> None:
    """Remember view values to write into the URL at the end of the run (see :func:`write_url`)."""
    st.session_state.setdefault(_URL_KEY, {}).update(values)


def encode(value: Any) -> str | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_url(page: str) -> None:
    """Make the URL hold exactly ``page`` and the values published during this run."""
    published = st.session_state.pop(_URL_KEY, {})
    wanted: Mapping[str, str] = {
        k: text for k, v in {"page": page, **published}.items() if (text := encode(v)) is not None
    }
    current = {k: str(st.query_params.get(k)) for k in st.query_params}
    if current != dict(wanted):
        st.query_params.from_dict(wanted)
