"""A submitter's text as data: the one place control characters are taken out of it."""

from __future__ import annotations


def printable(text: str, replacement: str = "?", keep: str = "") -> str:
    """``text`` with every non-printable character (ANSI escapes, NUL, ...) replaced by ``replacement``,
    except those in ``keep`` (e.g. newlines where a message may span lines)."""
    return "".join(c if c.isprintable() or c in keep else replacement for c in text)
