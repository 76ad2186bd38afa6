"""How fast is one CPU training step under each precision and memory layout? (ratio to fp32 NCHW)

One optimiser step (forward, L1 loss, backward, Adam) of a registered architecture on a random
batch, as ``bench train`` runs it: fp32 contiguous (NCHW) is the reference, then channels_last
(NHWC batches, what ``memory_format: channels_last`` does) and bf16 autocast with channels_last
(``precision: bf16`` on a CPU with native bf16). Each figure is the mean of ``--steps`` timed
steps after two warm-up steps, in one process, with the thread count given.

    python benchmarks/train_step_cpu.py --arch dncnn-list dncnn --batch 64 --patch 48 --threads 2
"""

from __future__ import annotations

import argparse
import contextlib
import time

import torch

from bench.models import build_model
from bench.training.loop import bf16_supported


def step_seconds(arch: str, batch: int, patch: int, layout: torch.memory_format, bf16: bool, steps: int) -> float:
    """Mean wall seconds of one optimiser step (after two warm-up steps)."""
    torch.manual_seed(0)
    model = build_model(arch, {"channels": 3}, {})
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    x = torch.rand(batch, 3, patch, patch).contiguous(memory_format=layout)
    y = torch.rand(batch, 3, patch, patch).contiguous(memory_format=layout)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()

    def one() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            output = model(x)
        (output.float() - y).abs().mean().backward()
        optimizer.step()

    for _ in range(2):
        one()
    began = time.perf_counter()
    for _ in range(steps):
        one()
    return (time.perf_counter() - began) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", nargs="+", default=["dncnn-list", "dncnn"])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--patch", type=int, default=48)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    arms = [("fp32 NCHW (reference)", torch.contiguous_format, False)]
    arms.append(("fp32 channels_last", torch.channels_last, False))
    if bf16_supported(torch.device("cpu")):
        arms.append(("bf16 channels_last", torch.channels_last, True))
    else:
        print("this CPU has no native bf16: the bf16 arm is left out")
    print(f"batch {args.batch} x {args.patch}x{args.patch}, {args.threads} threads, mean of {args.steps} steps")
    for arch in args.arch:
        reference = None
        for label, layout, bf16 in arms:
            seconds = step_seconds(arch, args.batch, args.patch, layout, bf16, args.steps)
            reference = reference or seconds
            print(f"{arch:<12} {label:<24} {seconds:7.3f} s/step   {reference / seconds:5.2f}x")


if __name__ == "__main__":
    main()
