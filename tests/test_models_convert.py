"""Every registered reference architecture converts to TFLite with litert-torch, within 1e-4 of PyTorch.

The cases come from the registry itself: each architecture's registration carries a tiny
configuration and input (``test_args``, ``test_shape``). Small configurations and inputs keep the
file quick (the time is mostly litert-torch's fixed cost per conversion). Odd sizes exercise the
U-Nets' reflect padding; weights are re-drawn larger than PyTorch's defaults so that an op the
converter gets wrong shows up in the error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from bench.models import ARCH_MODULES, MODELS, build_model, scan_architectures
from bench.models.subpixel import SubpixelConvTranspose2d
from bench.runtime.convert import to_tflite
from tests.conftest import REPO

# every registered architecture with its registration's tiny configuration, and each named variant
# ("name[variant]"); architectures registered by other test modules (module ``tests.*``) are left out
CASES: dict[str, tuple[dict[str, Any], tuple[int, int, int, int]]] = {}
for _name, _spec in MODELS.items():
    if _spec.factory.__module__.startswith("bench.models."):
        CASES[_name] = (dict(_spec.test_args), _spec.test_shape)
        CASES.update({f"{_name}[{v}]": (dict(args), _spec.test_shape) for v, args in _spec.test_variants.items()})


def test_every_architecture_file_is_scanned_and_covered() -> None:
    """Each ``*_arch.py`` in bench/models is imported by the package and registers at least one case here."""
    files = {f"bench.models.{p.stem}" for p in (REPO / "bench" / "models").glob("*_arch.py")}
    assert set(ARCH_MODULES) == files
    covered = {MODELS[name.split("[")[0]].factory.__module__ for name in CASES}
    assert covered == files
    assert len(CASES) >= 22  # 21 architectures and the FSRCNN deconv variant


def test_a_new_architecture_file_is_registered_by_dropping_it_in(tmp_path: Path) -> None:
    """The scan is all a new architecture needs: a file with the decorator, nothing else."""
    package = tmp_path / "extra_models"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tiny_arch.py").write_text(
        "from torch import nn\n"
        "from bench.models import register_model\n\n\n"
        '@register_model("test-scan-tiny", test_args={"channels": 3}, test_shape=(1, 3, 8, 8))\n'
        "def tiny(channels: int = 3) -> nn.Module:\n"
        '    """A one-conv test net."""\n'
        "    return nn.Conv2d(channels, channels, 3, padding=1)\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        assert scan_architectures(package, "extra_models") == ["extra_models.tiny_arch"]
    finally:
        sys.path.remove(str(tmp_path))
    spec = MODELS["test-scan-tiny"]
    assert (spec.summary, dict(spec.test_args), spec.test_shape) == (
        "A one-conv test net.",
        {"channels": 3},
        (1, 3, 8, 8),
    )
    assert build_model("test-scan-tiny", dict(spec.test_args), {})(torch.zeros(spec.test_shape)).shape == (1, 3, 8, 8)


@pytest.mark.parametrize("name", sorted(CASES))
def test_converts_to_tflite_exactly(name: str, tmp_path: Path) -> None:
    args, shape = CASES[name]
    torch.manual_seed(0)
    model = build_model(name.split("[")[0], args, {}).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | SubpixelConvTranspose2d):
                module.weight.normal_(0.0, 0.15)
            elif isinstance(module, nn.BatchNorm2d):  # non-trivial statistics, folded by the converter
                assert module.running_mean is not None and module.running_var is not None
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
    report = to_tflite(model, shape, tmp_path / f"{name}.tflite")
    assert report.max_abs_error < 1e-4
    assert "TRANSPOSE_CONV" not in report.ops  # the defaults avoid XNNPACK's slow path
