"""How to submit: the folder, the formats, the commands, and the service's Submit page (static text)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from leaderboards.context import Context
from leaderboards.widgets import show_table

FOLDER = """my-model/
  submission.yaml     the manifest (below)
  model.onnx          the model file it names (or model.tflite, model.keras, a SavedModel folder, ...)
  MODEL_CARD.md       optional: shown as plain text on the submission page"""

MANIFEST = """schema_version: 1
name: my-model                 # shown on the board
team: my-lab                   # your team (the service checks it against your token)
tasks: [sr-set5-x2, sr-set14-x2, sr-b100-x2, sr-urban100-x2]   # ids or patterns such as sr-*-x2
format: onnx
files: {model: model.onnx}
io: {layout: NCHW, colour: RGB, range: "[0,1]"}   # the defaults of the format; Y or grey models say so
precision: fp32
tags: [lightweight]
derived_from: my-model-large   # optional: the submission this one was made from (pruned, quantised, ...)
reproduces: fsrcnn             # optional: a model of reported/*.yaml; the board shows measured - reported
description: One paragraph on what the model is, shown as text."""

FORMATS = pd.DataFrame(
    [
        ("onnx", "model.onnx (external .data allowed)", "cpu-onnxruntime", "export with dynamic height and width"),
        ("tflite", "model.tflite", "cpu-tflite", "fp32, fp16 or int8; a fixed-shape timing model may be added"),
        ("torch-export", "model.pt2 (torch.export.save)", "cpu-torch", "read without pickle or exec"),
        ("safetensors", "weights + a registered architecture", "cpu-torch", "the project's own model code"),
        ("keras", "model.keras or .h5", "cpu-tflite", "converted by TensorFlow; no Lambda layers or custom objects"),
        ("saved_model", "a SavedModel folder", "cpu-tflite", "converted by TensorFlow; TFLite builtin ops only"),
    ],
    columns=["format", "files", "default device", "notes"],
)

COMMANDS = """bench tasks                                   # every task id, with its data and protocol
bench validate my-model                        # check the folder and run it on one image (seconds)
bench score my-model --task sr-set5-x2 --db results.db     # score and time it yourself, store the result
bench board --db results.db                    # this board, on your own store
bench team create my-lab                       # (service operator) prints the team's token
bench submit my-model --task sr-set5-x2 --token TOKEN    # queue it on the service; workers score it"""


def render(context: Context) -> None:
    st.subheader("How to submit a model")
    st.markdown(
        "A submission is a **folder** with a `submission.yaml` manifest and the model file it names. Nothing in it "
        "is imported or unpickled: the model runs in the scoring sandbox, bounded in time and memory, and every "
        "text in the manifest is shown as plain text."
    )
    st.code(FOLDER, language=None)
    st.markdown("**The manifest** (`submission.yaml`; unknown keys are refused, with the line to fix):")
    st.code(MANIFEST, language="yaml")
    st.markdown("**Formats** (the device that runs each one by default; every format can be timed on the TFLite "
                "devices through a checked converter):")  # fmt: skip
    show_table(FORMATS, "how-formats")
    st.markdown("**Commands**:")
    st.code(COMMANDS, language="bash")
    st.markdown(
        "**On the service**: a team's token and a zipped folder are all the *Submit* page needs (`?page=submit`); "
        "the *Queue* page (`?page=queue`) shows each job until it is done, then links to its result here. A result "
        "is scored on the task's full test set with the published protocol (PSNR/SSIM as the papers compute them) "
        "and timed with the latency protocol (warm-up, timed blocks, median and p90, a stability verdict). "
        "The full guide is docs/guide.md in the project."
    )
