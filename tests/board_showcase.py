"""The browser test's store: what a visitor would meet on a board in use.

:func:`fill_showcase_store` adds, to the board tests' store (:func:`tests.board_data.fill_board_store`:
Set5 x2 entries, a real bicubic run with crops, NTIRE 2024 ESR entries, an unregistered task):

* a real run of the shipped ``fsrcnn-x2`` on Set5 x2 (crops, model card), to compare with bicubic;
* SR entries on Set14, B100 and Urban100 x2 and Set5 x4 for the family overview's paper table;
* denoising, deblurring (GoPro), low-light and inpainting entries;
* a pruned EDSR that names its parent (``derived_from``) with a model card;
* an NTIRE 2020 deblurring rerun stored on ``deblur-deepdeblur-samples`` (not the track's own task),
  timed at the track's 256x256 on the stand-in ``cpu-tflite``;
* every latency kind: stable, unstable, quick (one block) and predicted, on cpu-torch, cpu-onnxruntime and
  cpu-tflite.
"""

from __future__ import annotations

from bench.challenges.tracks import get_track
from bench.plan import make_plan
from bench.recording import record_run
from bench.runtime.protocol import QUICK
from bench.store import Store
from bench.submission import load_submission
from bench.tasks import get_task
from tests.board_data import fill_board_store, latency, make_result
from tests.conftest import REPO

CARD = "# edsr-x2-pruned\n\nArchitecture-aware pruning of edsr-x2: 40 % of the MACs removed, fine-tuned 2000 steps.\n"
RERUN_TASK = "deblur-deepdeblur-samples"


def real_fsrcnn(store: Store) -> int:
    """The shipped fsrcnn-x2 scored on the embedded Set5 x2 (crops and model card stored)."""
    submission = load_submission(REPO / "submissions" / "reference" / "fsrcnn-x2")
    plan = make_plan(submission, get_task("sr-set5-x2"), ["cpu-torch"], latency=QUICK)
    return int(record_run(plan, store).result_id or 0)


def fill_showcase_store(store: Store) -> dict[str, int]:
    """Fill ``store`` (see the module docstring); the ids of the real runs: ``bicubic``, ``fsrcnn``, ``pruned``."""
    ids = {"bicubic": fill_board_store(store), "fsrcnn": real_fsrcnn(store)}
    models = {"edsr-x2": (34.0, 1.00), "carn-x2": (33.6, 0.6), "espcn-x2": (32.2, 0.1)}
    for name, (psnr, cost) in models.items():
        for offset, task in enumerate(("sr-set14-x2", "sr-b100-x2", "sr-urban100-x2")):
            timed = [latency("cpu-torch", 300 * cost), latency("cpu-onnxruntime", 200 * cost, stable=None),
                     latency("cpu-tflite", 150 * cost, stable=name != "carn-x2")]  # fmt: skip
            store.add(make_result(task, name, psnr - 2.0 - offset, timed, team="lab", macs=int(50e9 * cost),
                                  params=int(1.4e6 * cost), ssim=0.93 - offset / 50))  # fmt: skip
        store.add(make_result("sr-set5-x2", name, psnr + 2.0, {"cpu-torch": 300 * cost, "cpu-tflite": 150 * cost},
                              team="lab", macs=int(50e9 * cost), params=int(1.4e6 * cost), ssim=0.955))  # fmt: skip
    store.add(make_result("sr-set5-x4", "edsr-x4", 32.1, [latency("cpu-tflite", 40.0, kind="predicted", stable=None),
                                                          latency("cpu-torch", 90.0)], team="lab"))  # fmt: skip
    parent = make_result("sr-set5-x2", "edsr-x2-big", 36.1, {"cpu-torch": 500.0}, team="lab", macs=80_000_000_000)
    store.add(parent)
    pruned = make_result("sr-set5-x2", "edsr-x2-pruned", 36.05, {"cpu-torch": 310.0}, team="lab",
                         macs=48_000_000_000, tags=("pruned",))  # fmt: skip
    about = "EDSR x2, pruned (architecture-aware)."
    info = pruned.submission.model_copy(
        update={"derived_from": "edsr-x2-big", "model_card": CARD, "description": about}
    )
    ids["pruned"] = store.add(pruned.model_copy(update={"submission": info}))
    for name, psnr, ms in (("dncnn-s25", 31.2, 120.0), ("ffdnet-s25", 31.2, 40.0), ("list-dncnn", 30.9, 60.0)):
        store.add(make_result("denoise-cbsd68-s25", name, psnr, {"cpu-torch": ms, "cpu-onnxruntime": ms * 0.7},
                              team="dn-lab", tags=("denoise",)))  # fmt: skip
    store.add(make_result("denoise-cbsd68-s25", "identity-s25", 20.2, {"cpu-torch": 0.004}, team="bench baselines",
                          tags=("baseline",)))  # fmt: skip
    for name, psnr, ms in (("unet-deblur", 29.0, 900.0), ("unet-portable", 28.6, 300.0)):
        store.add(make_result("deblur-gopro", name, psnr, {"cpu-torch": ms, "cpu-tflite": ms / 2}, team="blur-lab"))
    store.add(make_result("lowlight-sid-sony", "sid-unet", 28.9, {"cpu-torch": 800.0}, team="night"))
    store.add(make_result("inpaint-places2-nvidia-b3", "gated-lite", 24.3, {"cpu-tflite": 70.0}, team="fill"))
    track = get_track("ntire2020-deblur-smartphone")
    shape = tuple(track.timing.input_shape)
    for name, psnr, ms in (("rerun-unet", 28.2, 30.0), ("rerun-portable", 27.9, 12.0), ("rerun-tiny", 26.5, 4.0)):
        store.add(make_result(RERUN_TASK, name, psnr, [latency("cpu-tflite", ms, shape=shape)], fmt="tflite",
                              team="blur-lab"))  # fmt: skip
    return ids
