"""Streamlit column settings shared by the pages' tables."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from leaderboards.frames import NUMBER_DIGITS


def column_config(table: pd.DataFrame, links: dict[str, str]) -> dict[str, Any]:
    """Number formats for ``table``'s numeric columns (:data:`~leaderboards.frames.NUMBER_DIGITS`) and a link
    column for each ``links`` entry (column -> its header)."""
    config: dict[str, Any] = {
        column: st.column_config.NumberColumn(format=f"%.{NUMBER_DIGITS[column]}f")
        for column in table.columns
        if column in NUMBER_DIGITS
    }
    config.update({column: st.column_config.LinkColumn(label, display_text="open") for column, label in links.items()})
    return config
