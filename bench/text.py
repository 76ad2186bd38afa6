"""A submitter's text as data: the one place control characters are taken out of it."""

from __future__ import annotations

import re


def printable(text: str, replacement: str = "?", keep: str = "") -> str:
    """``text`` with every non-printable character (ANSI escapes, NUL, ...) replaced by ``replacement``,
    except those in ``keep`` (e.g. newlines where a message may span lines)."""
    return "".join(c if c.isprintable() or c in keep else replacement for c in text)


_PATH = re.compile(r"(?<![\w.:/~])(?:(?:~|\.{1,2})(?:/[\w.@+~-]+)+|(?:/[\w.@+~-]+){2,})/?")


def without_paths(text: str) -> str:
    """``text`` with every file-system path (``/home/u/.cache/x.pth``, ``../shared/a.md``, ``~/b``) cut to
    its last component, for pages strangers read: a path tells a visitor nothing and tells an attacker
    the layout of the scoring machine. URLs (``scheme://``) are kept."""
    return _PATH.sub(lambda match: match.group(0).rstrip("/").rsplit("/", 1)[-1], text)
