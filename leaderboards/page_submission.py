"""Submission page: one run's scores, its model card and description (as text), the chain of submissions it
was derived from with the change at each step, its latencies, per-image scores, its sample crops beside
another submission's on the same image, and its provenance."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import streamlit as st
from PIL import Image

from bench.metrics.registry import BUILTIN, METRICS
from leaderboards import state
from leaderboards.context import Context
from leaderboards.frames import as_text, csv_bytes, device_label, entry_note, plain, stability_of
from leaderboards.tables import derivation_steps
from leaderboards.widgets import show_table

ZOOMS = [1, 2, 4, 8]
VIEW_PIXELS = 288  # displayed width of each crop (nearest-neighbour, so zoomed pixels stay sharp)


def zoom_window(image: Image.Image, zoom: int, centre: tuple[float, float]) -> Image.Image:
    """The 1/``zoom`` part of ``image`` around ``centre`` (fractions of width, height), scaled to VIEW_PIXELS."""
    width, height = image.size
    w, h = max(1, round(width / zoom)), max(1, round(height / zoom))
    left = min(max(0, round(centre[0] * width - w / 2)), width - w)
    top = min(max(0, round(centre[1] * height - h / 2)), height - h)
    part = image.crop((left, top, left + w, top + h))
    return part.resize((VIEW_PIXELS, max(1, round(VIEW_PIXELS * h / w))), Image.Resampling.NEAREST)


CARD_OPEN = 2000  # characters: a shorter model card is shown open
COMPARE_CHOICES = 100  # the other runs offered for a side-by-side view: the best of the same task version


def run_label(frame: pd.DataFrame) -> dict[int, str]:
    first = frame.drop_duplicates("result_id")
    text = (first["submission"] + " · " + first["task"] + " v" + first["task_version"].astype(str) + " (#"
            + first["result_id"].astype(str) + ")")  # fmt: skip
    return dict(zip(first["result_id"].astype(int), text, strict=True))


def compare_choices(frame: pd.DataFrame, run_id: int, task: str, version: int) -> list[int]:
    """Other runs of the same task version, best PSNR first (at most COMPARE_CHOICES)."""
    same = frame[(frame["task"] == task) & (frame["task_version"] == version) & (frame["result_id"] != run_id)]
    ordered = same.sort_values("psnr", ascending=False, kind="stable")["result_id"].drop_duplicates()
    return [int(r) for r in ordered[:COMPARE_CHOICES]]


def latency_table(latencies: list[dict[str, Any]]) -> pd.DataFrame:
    records = []
    for lat in latencies:
        shape = "x".join(str(v) for v in lat["input_shape"])
        records.append(
            {
                "device": device_label(lat["device"], lat["kind"]),
                "backend": lat["backend"],
                "precision": lat["precision"],
                "threads": lat["threads"],
                "input": shape,
                "median (ms)": lat["median_ms"],
                "p90 (ms)": lat["p90_ms"],
                "mean (ms)": lat["mean_ms"],
                "cv": lat["cv"],
                "runs": lat["runs"],
                "kind": lat["kind"],
                "stability": stability_of(lat["median_ms"], lat["stable"], lat.get("spread"), lat["kind"])[0],
                "note": entry_note({"psnr": 0.0, "median_ms": lat["median_ms"]}),
            }
        )
    return pd.DataFrame.from_records(records)


def samples_view(context: Context, run_id: int, labels: dict[int, str], task: str, version: int) -> None:
    crops = context.store.samples(run_id)
    if not crops:
        st.info("No sample outputs stored for this run (results stored whole, e.g. imported, keep none).")
        return
    ids = [c.image_id for c in crops]
    controls = st.columns([2, 3])
    state.seed_choice("image", ids)
    image_id = controls[0].selectbox("Image", ids, key="image")
    crop = crops[ids.index(image_id)]
    others = compare_choices(context.frame, run_id, task, version)
    state.seed_choice("compare", others, int)
    other_id = controls[1].selectbox(
        "Compare with", [None, *others], key="compare", format_func=lambda r: labels[r] if r else "(none)"
    )
    zoom_controls = st.columns(3)
    state.seed_choice("zoom", ZOOMS, int)
    zoom = zoom_controls[0].select_slider("Zoom", ZOOMS, key="zoom", format_func=lambda z: f"{z}x")
    cx = zoom_controls[1].slider("Centre, across (%)", 0, 100, 50, key="cx")
    cy = zoom_controls[2].slider("Centre, down (%)", 0, 100, 50, key="cy")
    state.publish(image=image_id, zoom=zoom if zoom != 1 else None, compare=other_id)
    top, left, height, width = crop.box
    st.caption(
        f"Window of {width}x{height} target pixels at ({left}, {top}); the same window for every "
        "submission on this image. Output: the uint8-rounded model output the metrics scored."
    )
    panels: list[tuple[str, bytes]] = [("input", crop.input_png), ("output", crop.output_png)]
    if other_id is not None:
        match = [c for c in context.store.samples(int(other_id)) if c.image_id == image_id]
        if match:
            panels.append((f"output of {plain(labels[int(other_id)].split(' · ')[0])}", match[0].output_png))
        else:
            st.info("The other submission has no stored crop of this image.")
    panels.append(("target", crop.target_png))
    for column, (title, png) in zip(st.columns(len(panels)), panels, strict=True):
        with Image.open(io.BytesIO(png)) as image:
            column.image(
                zoom_window(image.convert("RGB"), int(zoom), (cx / 100, cy / 100)), caption=title, output_format="PNG"
            )  # lossless: JPEG artefacts would blur the comparison


def card_view(info: dict[str, Any]) -> None:
    """The manifest's description and the folder's MODEL_CARD.md, shown as plain text (never Markdown)."""
    description, card = plain(info.get("description") or ""), info.get("model_card")
    if description:
        st.text(description)
    if card:
        with st.expander("Model card (MODEL_CARD.md, shown as text)", expanded=len(card) < CARD_OPEN):
            st.code(plain(card, keep="\n"), language=None)


def field_text(value: Any) -> str:
    """A stored field as text: lists joined, times to the minute, paths cut, None as ""."""
    if isinstance(value, list):
        return plain(", ".join(str(v) for v in value))
    if hasattr(value, "strftime"):
        return str(value.strftime("%Y-%m-%d %H:%M"))
    return plain(value)


def public(value: Any) -> Any:
    """The provenance for strangers: every string with its file-system paths cut (:func:`plain`)."""
    if isinstance(value, dict):
        return {str(k): public(v) for k, v in value.items()}
    if isinstance(value, list):
        return [public(v) for v in value]
    return plain(value) if isinstance(value, str) else value


def derivation_view(context: Context, run_id: int, info: dict[str, Any], task: str) -> None:
    """The chain of submissions this one was derived from, with the change in PSNR, MACs and latency at each step."""
    if not info.get("derived_from"):
        return
    st.subheader("Derived from")
    steps = derivation_steps(context.frame, context.store, run_id, task, str(info["derived_from"]))
    if steps.empty:
        st.caption(f"Derived from {as_text(info['derived_from'])}, which has no result on this task in this store.")
        return
    show_table(steps, "sub-derived", {"parent page": "parent"})
    st.caption("Each step: the change from the parent's newest result on this task (MACs and params in %, PSNR in "
               "dB, latency in % on each device both were timed on).")  # fmt: skip


def render(context: Context) -> None:
    frame = context.frame
    labels = run_label(frame)
    runs = sorted(labels, reverse=True)
    state.seed_choice("run", runs, int)
    run_id = int(st.selectbox("Result", runs, format_func=labels.__getitem__, key="run"))
    state.publish(run=run_id)
    detail = context.store.run_detail(run_id)
    if detail is None:
        st.error(f"Result #{run_id} is not in the store any more (or is not complete).")
        return
    sub, result = detail["submission"], detail["result"] or {}
    metrics = result.get("metrics", {})
    st.header(f"{as_text(sub['name'])} · {as_text(detail['task'])} v{detail['task_version']}")
    recorded = {**metrics.get("extra", {}), **{k: metrics.get(k) for k in BUILTIN}}
    shown = [m for m in METRICS.values() if recorded.get(m.name) is not None]
    cells = st.columns(len(shown) + 2)
    for cell, metric in zip(cells, shown, strict=False):
        value = recorded[metric.name]
        cell.metric(metric.title, "-" if value is None else f"{value:.{metric.digits}f}")
    complexity = result.get("complexity", {})
    macs, params = complexity.get("macs"), complexity.get("params")
    cells[-2].metric("MACs (G)", "-" if macs is None else f"{macs / 1e9:.3f}")
    cells[-1].metric("params (K)", "-" if params is None else f"{params / 1e3:.1f}")
    if metrics.get("lpips_note"):
        st.caption(f"LPIPS: {as_text(metrics['lpips_note'])}")
    reproduces = (result.get("submission") or {}).get("reproduces")
    if reproduces and metrics.get("psnr") is not None:
        from bench.reported import difference_note

        st.caption(as_text(difference_note(str(reproduces), str(detail["task"]), metrics["psnr"], metrics.get("ssim"))))

    info = result.get("submission") or {}
    card_view(info)
    derivation_view(context, run_id, info, str(detail["task"]))

    st.subheader("Submission")
    fields = [{"field": k, "value": field_text(v)} for k, v in sub.items() if field_text(v)]
    fields += [{"field": k, "value": plain(info[k])} for k in ("derived_from", "reproduces") if info.get(k)]
    show_table(pd.DataFrame(fields), "sub-fields")
    st.subheader("Latency")
    latencies = latency_table(detail["latencies"])
    show_table(latencies, "sub-latency")
    st.caption(
        "Measured and predicted latencies are separate rows (kind); a predicted one names its device "
        "with `(predicted)`."
    )

    st.subheader("Per-image scores")
    images = pd.DataFrame.from_records(detail["images"], columns=["position", "id", *(m.name for m in shown)])
    images = images.rename(columns={m.name: m.title for m in shown})
    if images.empty:
        st.caption("No per-image scores stored for this run (a result stored whole, e.g. imported).")
    else:
        show_table(images, "sub-images", height=min(400, 40 + 35 * len(images)))
        st.download_button("Download CSV", csv_bytes(images), f"run-{run_id}-images.csv", "text/csv", key="csv-images")

    st.subheader("Visual comparison")
    samples_view(context, run_id, labels, str(detail["task"]), int(detail["task_version"]))

    with st.expander("Provenance"):
        st.json(public(result.get("provenance", {})))
        st.caption(f"Run key {as_text(detail['key'])}; started {field_text(detail['started_at'])}, finished "
                   f"{field_text(detail['finished_at'])}.")  # fmt: skip
