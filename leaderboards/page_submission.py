"""Submission page: one run's provenance, latencies, per-image scores and stored sample crops."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import streamlit as st
from PIL import Image

from bench.metrics.registry import BUILTIN, METRICS
from leaderboards import state
from leaderboards.context import Context
from leaderboards.frames import as_text, csv_bytes, device_label, entry_note, stability_of

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


def run_label(frame: pd.DataFrame) -> dict[int, str]:
    first = frame.drop_duplicates("result_id").set_index("result_id")
    return {
        int(r): f"{first.at[r, 'submission']} · {first.at[r, 'task']} v{first.at[r, 'task_version']} (#{r})"
        for r in first.index
    }


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


def samples_view(context: Context, run_id: int) -> None:
    crops = context.store.samples(run_id)
    if not crops:
        st.info("No sample outputs stored for this run (results stored whole, e.g. imported, keep none).")
        return
    ids = [c.image_id for c in crops]
    state.seed_choice("image", ids)
    image_id = st.selectbox("Image", ids, key="image")
    crop = crops[ids.index(image_id)]
    controls = st.columns(3)
    state.seed_choice("zoom", ZOOMS, int)
    zoom = controls[0].select_slider("Zoom", ZOOMS, key="zoom", format_func=lambda z: f"{z}x")
    cx = controls[1].slider("Centre, across (%)", 0, 100, 50, key="cx")
    cy = controls[2].slider("Centre, down (%)", 0, 100, 50, key="cy")
    state.publish(image=image_id, zoom=zoom if zoom != 1 else None)
    top, left, height, width = crop.box
    st.caption(
        f"Window of {width}x{height} target pixels at ({left}, {top}); the same window for every "
        "submission on this image. Output: the uint8-rounded model output the metrics scored."
    )
    columns = st.columns(3)
    for column, (title, png) in zip(
        columns, (("input", crop.input_png), ("output", crop.output_png), ("target", crop.target_png)), strict=True
    ):
        with Image.open(io.BytesIO(png)) as image:
            column.image(
                zoom_window(image.convert("RGB"), int(zoom), (cx / 100, cy / 100)), caption=title, output_format="PNG"
            )  # lossless: JPEG artefacts would blur the comparison


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
    shown = [m for m in METRICS.values() if m.name in recorded]
    cells = st.columns(len(shown) + 2)
    for cell, metric in zip(cells, shown, strict=False):
        value = recorded[metric.name]
        cell.metric(metric.title, "-" if value is None else f"{value:.{metric.digits}f}")
    complexity = result.get("complexity", {})
    macs, params = complexity.get("macs"), complexity.get("params")
    cells[-2].metric("MACs (G)", "-" if macs is None else f"{macs / 1e9:.3f}")
    cells[-1].metric("params (K)", "-" if params is None else f"{params / 1e3:.1f}")
    if metrics.get("lpips_note"):
        st.caption(f"LPIPS: {metrics['lpips_note']}")
    reproduces = (result.get("submission") or {}).get("reproduces")
    if reproduces and metrics.get("psnr") is not None:
        from bench.reported import difference_note

        st.caption(as_text(difference_note(str(reproduces), str(detail["task"]), metrics["psnr"], metrics.get("ssim"))))

    st.subheader("Submission")
    st.dataframe(
        pd.DataFrame([{"field": k, "value": ", ".join(v) if isinstance(v, list) else str(v)} for k, v in sub.items()]),
        hide_index=True,
        key="sub-fields",
    )
    st.subheader("Latency")
    latencies = latency_table(detail["latencies"])
    st.dataframe(latencies, hide_index=True, key="sub-latency")
    st.caption(
        "Measured and predicted latencies are separate rows (kind); a predicted one names its device "
        "with `(predicted)`."
    )

    st.subheader("Per-image scores")
    images = pd.DataFrame.from_records(detail["images"], columns=["position", "id", *(m.name for m in shown)])
    st.dataframe(images, hide_index=True, key="sub-images")
    st.download_button("Download CSV", csv_bytes(images), f"run-{run_id}-images.csv", "text/csv", key="csv-images")

    st.subheader("Visual comparison")
    samples_view(context, run_id)

    with st.expander("Provenance"):
        st.json(result.get("provenance", {}))
        st.caption(f"Run key `{detail['key']}`; started {detail['started_at']}, finished {detail['finished_at']}.")
