"""The overview by task family: one row per model with its score on every data set, as papers print them.

A task's place in its family is read from its id, which follows the project's naming (tasks/):

* ``sr-<set>-x<scale>[-<variant>]``: group ``x<scale>``, column ``<Set>`` (``Set14 classic`` for a variant);
* ``denoise-<set>-s<sigma>``: group ``σ=<sigma>``, column ``<Set>``; other denoising tasks: group ``real``;
* ``inpaint-<set>-nvidia-b<bin>`` and ``inpaint-demo-b<bin>``: group ``<Set>``, column ``holes <bin>``;
* deblurring and low light: group ``all``, column the rest of the id; a task of no known family (one no
  longer registered, say) is in ``other``.

Within a group, :func:`family_table` has one row per model (submission name and team; its newest valid
run on each task), a ``PSNR / SSIM`` text cell per column, its *average rank* (the mean over the columns it
has of its PSNR rank there, 1 = best, ties share the better rank; *sets* says how many columns that is),
its lowest median latency on each measured device (ms), and its MACs and params (their median over its
entries: the tasks of one group share the latency input, so these agree).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

FAMILIES = {"sr": "Super-resolution", "denoise": "Denoising", "deblur": "Deblurring", "lowlight": "Low light",
            "inpaint": "Inpainting", "other": "Other tasks"}  # fmt: skip
SETS = {"set5": "Set5", "set14": "Set14", "b100": "B100", "urban100": "Urban100", "manga109": "Manga109",
        "div2k": "DIV2K", "set12": "Set12", "bsd68": "BSD68", "cbsd68": "CBSD68", "kodak24": "Kodak24",
        "mcmaster": "McMaster", "sidd": "SIDD", "gopro": "GoPro", "reds4": "REDS4", "reds": "REDS",
        "deepdeblur": "DeepDeblur", "celebahq": "CelebA-HQ", "places2": "Places2", "sid": "SID",
        "demo": "Demo"}  # fmt: skip
SET_ORDER = list(SETS.values())  # the order papers print them in
MAX_DEVICES = 3  # latency columns: the devices with most entries in the group


@dataclass(frozen=True)
class Place:
    family: str
    group: str
    column: str


def _set_name(token: str) -> str:
    return SETS.get(token, token)


def place_of(task_id: str) -> Place:
    """Where ``task_id`` sits in the overview (see the module docstring)."""
    family, _, rest = task_id.partition("-")
    if family not in FAMILIES:
        return Place("other", "all", task_id)
    if family == "sr" and (m := re.fullmatch(r"(?P<set>[a-z0-9]+)-x(?P<scale>\d+)(?:-(?P<variant>.+))?", rest)):
        variant = f" {m['variant']}" if m["variant"] else ""
        return Place(family, f"x{m['scale']}", _set_name(m["set"]) + variant)
    if family == "denoise":
        if m := re.fullmatch(r"(?P<set>[a-z0-9]+)-s(?P<sigma>\d+)", rest):
            return Place(family, f"σ={m['sigma']}", _set_name(m["set"]))
        return Place(family, "real", _set_name(rest.split("-")[0]) + rest.removeprefix(rest.split("-")[0]))
    if family == "inpaint" and (m := re.fullmatch(r"(?P<set>[a-z0-9]+)(?:-nvidia)?-b(?P<bin>\d+)", rest)):
        return Place(family, _set_name(m["set"]), f"holes {m['bin']}")
    name = rest.split("-")[0]
    return Place(family, "all", _set_name(name) + rest.removeprefix(name) if rest else task_id)


def families_of(tasks: list[str]) -> dict[str, list[str]]:
    """family -> its groups present among ``tasks`` (both in display order)."""
    found: dict[str, set[str]] = {}
    for task in tasks:
        place = place_of(task)
        found.setdefault(place.family, set()).add(place.group)
    order = [*FAMILIES, *sorted(set(found) - set(FAMILIES))]
    return {family: sorted(found[family], key=_group_key) for family in order if family in found}


def _group_key(group: str) -> tuple[int, str]:
    digits = re.findall(r"\d+", group)
    return (int(digits[0]) if digits else 10**6, group)


def _column_key(column: str) -> tuple[int, str]:
    base = column.split(" ")[0]
    return (SET_ORDER.index(base) if base in SET_ORDER else len(SET_ORDER), column)


def family_table(frame: pd.DataFrame, family: str, group: str) -> pd.DataFrame:
    """The paper-table view of ``group`` of ``family`` (see the module docstring): most data sets first, then
    the best average rank."""
    places = {task: place_of(task) for task in frame["task"].unique()}
    tasks = [t for t, p in places.items() if p.family == family and p.group == group]
    rows = frame[frame["task"].isin(tasks) & frame["valid"] & frame["psnr"].notna()]
    if rows.empty:
        return pd.DataFrame(columns=["model", "team"])
    rows = rows.assign(column=rows["task"].map(lambda t: places[t].column))
    newest = rows.sort_values("result_id").drop_duplicates(["submission", "team", "task"], keep="last")
    columns = sorted(newest["column"].unique(), key=_column_key)
    scores = newest.pivot_table(index=["submission", "team"], columns="column", values="psnr", aggfunc="first")
    ssims = newest.pivot_table(index=["submission", "team"], columns="column", values="ssim", aggfunc="first")
    ranked = scores.rank(ascending=False, method="min")
    table = pd.DataFrame(index=scores.index)
    for column in columns:
        table[column] = [
            None if pd.isna(p) else (f"{p:.2f} / {s:.4f}" if not pd.isna(s) else f"{p:.2f}")
            for p, s in zip(scores[column], ssims.reindex(columns=columns)[column], strict=True)
        ]
    table["avg rank"] = ranked[columns].mean(axis=1).round(2)
    counted = scores[columns].notna().sum(axis=1)
    table["sets"] = [f"{int(n)}/{len(columns)}" for n in counted]
    table["_count"] = counted
    measured = rows[rows["latency_kind"].fillna("measured") == "measured"]
    devices = list(measured["device_label"].value_counts().index[:MAX_DEVICES])
    for device in sorted(devices):
        fastest = measured[measured["device_label"] == device].groupby(["submission", "team"])["median_ms"].min()
        table[f"{device} (ms)"] = fastest.reindex(table.index)
    cost = rows.groupby(["submission", "team"])[["macs_g", "params_k"]].median()
    table["MACs (G)"] = cost["macs_g"].reindex(table.index)
    table["params (K)"] = cost["params_k"].reindex(table.index)
    table = table.sort_values(["_count", "avg rank"], ascending=[False, True], kind="stable")
    return table.drop(columns="_count").reset_index().rename(columns={"submission": "model"})
