"""Challenge page: a track's ranking from stored results, with its score breakdown and published rows."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from bench.challenges.formulas import HIGHER_IS_BETTER
from bench.challenges.ranking import published_rows, shape_text
from bench.challenges.tracks import Track, TrackError, all_tracks
from leaderboards import state
from leaderboards.challenge_view import RANKING_COLUMNS, default_baseline, ranking
from leaderboards.context import Context
from leaderboards.families import place_of
from leaderboards.frames import as_text, choices, csv_bytes
from leaderboards.widgets import show_table


def _tracks() -> dict[str, Track]:
    try:
        return all_tracks()
    except TrackError as exc:
        st.error(f"The track definitions cannot be read: {exc}")
        return {}


def breakdown_chart(table: pd.DataFrame) -> alt.Chart:
    """Stacked bars of each ranked entry's score terms."""
    terms = [c for c in table.columns if c not in RANKING_COLUMNS]
    ranked = table[table["score"].notna()]
    long = ranked.melt(id_vars=["submission"], value_vars=terms, var_name="term", value_name="value")
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            y=alt.Y("submission:N", sort=list(ranked["submission"]), title=None),
            x=alt.X("value:Q", title="contribution to the score", stack="zero"),
            color=alt.Color("term:N", title=None),
            tooltip=["submission", "term", alt.Tooltip("value:Q", format=".4f")],
        )
    )


def published_table(track: Track) -> pd.DataFrame:
    rows = published_rows(track)
    return pd.DataFrame(
        [
            {
                "rank": r.rank,
                "entry": r.submission,
                "PSNR (dB)": r.psnr,
                "runtime (ms)": r.runtime_ms,
                "score (formula)": r.score,
            }
            for r in rows
        ]
    )


def track_rows(context: Context, track: Track) -> pd.DataFrame:
    """The stored entries of the task the track is ranked on: its own quality task, or another task of the same
    family it was rerun on (``bench challenge --task``), chosen with the *Quality task* picker (kept in the URL)
    and defaulting to the track's own task when it has results, else the task with most entries. Newest task
    version only. Tasks whose entries were timed at the track's own input shape (a rerun's mark) come first."""
    frame = context.frame
    own = place_of(track.quality_task).family
    family_of = {task: place_of(task).family for task in frame["task"].unique()}
    family = frame[frame["task"].map(family_of) == own]
    counts = family["task"].value_counts()
    if counts.empty:
        return family
    reruns = family.loc[family["input_shape"] == shape_text(track.timing.input_shape), "task"].value_counts()
    tasks = sorted(counts.index, key=lambda t: (t != track.quality_task, -int(reruns.get(t, 0)), -int(counts[t]), t))
    state.seed_choice("ctask", tasks)
    task = st.selectbox("Quality task (the track's own, or another it was rerun on)", tasks, key="ctask",
                        format_func=context.task_label)  # fmt: skip
    state.publish(ctask=task if task != tasks[0] else None)
    if task != track.quality_task:
        st.info(f"Stand-in task: ranked on {as_text(task)}, not on the track's {track.quality_task}.")
    rows = family[family["task"] == task]
    return rows[rows["task_version"] == rows["task_version"].max()]


def render(context: Context) -> None:
    tracks = _tracks()
    if not tracks:
        return
    state.seed_choice("track", list(tracks))
    track_id = st.selectbox("Track", list(tracks), format_func=lambda t: f"{tracks[t].title} ({t})", key="track")
    track = tracks[track_id]
    st.caption(as_text(track.description))
    st.markdown(
        f"Quality task `{track.quality_task}`; timing input {shape_text(track.timing.input_shape)}, "
        f"{track.timing.statistic} latency; formats: {', '.join(track.rules.formats)}; score formula "
        f"`{track.score.formula}` ({'higher' if HIGHER_IS_BETTER[track.score.formula] else 'lower'} is better)"
        + (f"; PSNR gate {track.score.psnr_gate:.2f} dB." if track.score.psnr_gate is not None else ".")
    )
    rows = track_rows(context, track)
    devices = choices(rows, "device_label")
    state.publish(track=track_id)
    if not devices:
        st.info(
            f"No stored results of `{track.quality_task}` or of another task of its family yet. Rerun the track "
            f"into the store with `bench challenge {track_id} SUBMISSION_DIR... --db URL` (`--task ID` for another "
            "data set)."
        )
    else:
        preferred = [d for d in (track.timing.bench_device, track.timing.fallback_device) if d in devices]
        if "tdevice" not in st.session_state and state.query_text("tdevice") is None and preferred:
            st.session_state["tdevice"] = preferred[0]
        state.seed_choice("tdevice", devices)
        device = st.selectbox("Timing device", devices, key="tdevice")
        baseline = None
        if track.score.baseline_constants:
            names = ["", *sorted(rows.loc[rows["device_label"] == device, "submission"].unique())]
            if "baseline" not in st.session_state and state.query_text("baseline") is None:
                guess = default_baseline(rows[rows["device_label"] == device])
                if guess is not None:
                    st.session_state["baseline"] = guess
            state.seed_choice("baseline", names)
            baseline = (
                st.selectbox(
                    "Baseline (sets the score's runtime, FLOPs and params constants)",
                    names,
                    format_func=lambda n: n or "(choose the baseline entry)",
                    key="baseline",
                )
                or None
            )
        state.publish(tdevice=device, baseline=baseline)
        if device != track.timing.bench_device:
            st.warning(
                f"Stand-in device: {as_text(device)} stood in for the track's {track.timing.device}, which is not "
                "attached here. Scores are not comparable with the official table."
            )
        table, note = ranking(track, rows, device, baseline)
        st.subheader("Ranking")
        show_table(table, "challenge-table")
        st.download_button(
            "Download CSV", csv_bytes(table), f"{track_id}-{device}.csv", "text/csv", key="csv-challenge"
        )
        # the note names the baseline entry, a submitter's text: shown as text, never as Markdown
        sentence = note[:1].upper() + note[1:]
        st.caption(as_text(sentence) + ". Rejected, invalid and gated entries are listed with a reason, not ranked.")
        if table["score"].notna().any():
            st.subheader("Score breakdown")
            st.altair_chart(breakdown_chart(table), width="stretch")
    if track.published:
        st.subheader("Published rows, scored with the same formula")
        official = published_table(track)
        show_table(official, "challenge-published")
        st.caption(f"Source: {as_text(track.published_source)}")
