"""How the board shows a table: one place for number formats, links, missing values and widths."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from leaderboards.frames import NUMBER_DIGITS

MISSING = "–"  # what an empty cell shows (Streamlit's own placeholder is the word "None")
#: Columns a table keeps narrow (short values), so a wide table still fits a 1400 px window.
NARROW = {"rank", "version", "entries", "tasks", "Pareto", "details", "link", "runs", "threads", "cv", "job",
          "attempts", "status", "sets", "result", "year", "position"}  # fmt: skip


def column_config(table: pd.DataFrame, links: dict[str, str], widths: dict[str, Any] | None = None) -> dict[str, Any]:
    """Number formats for ``table``'s numeric columns (:data:`~leaderboards.frames.NUMBER_DIGITS`, or the
    digits a column's header implies: "(ms)" 3, "(G)" 3, "(K)" 1, "(dB)" 2), a link column for each
    ``links`` entry (column -> its header), narrow widths for the short columns and ``widths`` (column ->
    "small", "medium", "large" or pixels) where given: a long text column is cut (its full text on hover)
    rather than pushing the others out of the window."""
    config: dict[str, Any] = {}
    for column in table.columns:
        width: Any = (widths or {}).get(column, "small" if column in NARROW else None)
        digits = NUMBER_DIGITS.get(column, _digits_from_header(str(column)))
        if digits is not None and pd.api.types.is_numeric_dtype(table[column]) and table[column].dtype != bool:
            config[column] = st.column_config.NumberColumn(format=f"%.{digits}f", width=width)
        elif width is not None:
            config[column] = st.column_config.Column(width=width)
    for column, label in links.items():
        config[column] = st.column_config.LinkColumn(label, display_text="open", width="small")
    return config


def _digits_from_header(header: str) -> int | None:
    for unit, digits in (("(ms)", 3), ("(G)", 3), ("(K)", 1), ("(dB)", 2)):
        if header.endswith(unit):
            return digits
    return None


def show_table(
    table: pd.DataFrame,
    key: str,
    links: dict[str, str] | None = None,
    height: int | None = None,
    widths: dict[str, Any] | None = None,
) -> None:
    """``table`` as the board's grid: full width, no index, formatted numbers, an empty cell shown as
    :data:`MISSING`, links opened by a short "open"; inside a container keyed ``table-<key>`` (its CSS class
    ``st-key-table-<key>`` lets a browser test find it)."""
    st.container(key=f"table-{key}").dataframe(
        table,
        hide_index=True,
        width="stretch",
        height=height if height is not None else "auto",
        column_config=column_config(table, links or {}, widths),
        placeholder=MISSING,
        key=key,
    )
