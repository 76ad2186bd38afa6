"""Models that misbehave when they run, and architectures over a budget."""

from __future__ import annotations

from pathlib import Path

from tests.hostile.base import (
    TASK,
    Attempt,
    arch,
    case,
    folder,
    save_wide,
    score,
    scored,
)

# -- a model that misbehaves when it runs ------------------------------------------------------------------


@case("model never returns")
def _(root: Path) -> Attempt:
    return scored(root, arch("test-hangs"), "within the per-image limit of 4 s", "--image-limit", "4")


@case("model allocates 6 GiB under a 3 GiB limit")
def _(root: Path) -> Attempt:
    return scored(root, arch("test-hungry", "{gib: 6}"), "over the memory limit of 3 GiB", "--memory-limit", "3G")


@case("model returns a tuple")
def _(root: Path) -> Attempt:
    return scored(root, arch("test-misbehaves", "{how: tuple}"), "failed on denoise-demo-s25")


@case("model raises TypeError mid-run")
def _(root: Path) -> Attempt:
    return scored(root, arch("test-fails-late"), "TypeError: the second image broke the model")


@case("model aborts its process")
def _(root: Path) -> Attempt:
    return scored(root, arch("test-misbehaves", "{how: abort}"), "was killed by signal 6 (SIGABRT)")


@case("model exits its process")
def _(root: Path) -> Attempt:
    return scored(root, arch("test-misbehaves", "{how: exit}"), "exited with 0")


@case("model writes 64 MiB under a 16 MiB file limit")
def _(root: Path) -> Attempt:
    return scored(root, arch("test-misbehaves", "{how: writes, mib: 64}"),
                  "wrote a file over the file-size limit of 16 MiB (--file-limit)", "--file-limit", "16M")  # fmt: skip


@case("model overwrites its own manifest")
def _(root: Path) -> Attempt:
    sub = folder(root)
    manifest = arch("test-misbehaves", f"{{how: tampers, target: {sub / 'submission.yaml'}}}")
    (sub / "submission.yaml").write_text(manifest)
    return Attempt(score(sub), "Read-only file system")


@case("architecture of 10^7 residual blocks")
def _(root: Path) -> Attempt:
    manifest = arch("edsr-baseline", "{n_resblocks: 10000000, n_feats: 1}").replace(TASK, "sr-set5-x2")
    sub = folder(root, manifest)
    return Attempt(["score", str(sub), "--task", "sr-set5-x2", "--quick", "--image-limit", "5", "--memory-limit", "3G"],
                   "loading the model")  # fmt: skip


@case("architecture of 680 M parameters")
def _(root: Path) -> Attempt:
    sub = folder(root, arch("edsr-baseline", "{n_feats: 1536}").replace(TASK, "sr-set5-x2"))
    return Attempt(["score", str(sub), "--task", "sr-set5-x2", "--quick", "--memory-limit", "2G"],
                   "over the budget of 200,000,000; nothing was allocated")  # fmt: skip


@case("architecture with activations of 4.9 GiB under a 4 GiB limit")
def _(root: Path) -> Attempt:
    """3 -> 20,000 -> 3 channels: 20,000 x 256 x 256 x 4 bytes = 4.9 GiB for one activation of a demo image."""
    sub = folder(root, arch("test-wide", "{channels: 20000}", weights="w.safetensors"))
    save_wide(sub / "w.safetensors", 20000)
    return Attempt(
        score(sub, "--memory-limit", "4G"), "over the memory limit of 4 GiB (--memory-limit); refused before"
    )


@case("architecture over a MAC budget of 1 M per call")
def _(root: Path) -> Attempt:
    sub = folder(root, arch("test-wide", "{channels: 64}", weights="w.safetensors"))
    save_wide(sub / "w.safetensors", 64)
    # the 48 x 48 probe takes 48 x 48 x 64 x 3 x 2 = 884,736 MACs (allowed); a 256 x 256 image 25.2 M (refused)
    return Attempt(score(sub, "--mac-limit", "1M"), "multiply-accumulates, over the budget of 1e-06 T per call")


@case("architecture arguments of the wrong type")
def _(root: Path) -> Attempt:
    return scored(root, arch("dncnn", "{features: lots}"), "bad arguments for architecture 'dncnn'")


@case("unknown architecture")
def _(root: Path) -> Attempt:
    return scored(root, arch("__import__('os').system"), "unknown architecture")
