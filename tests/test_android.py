"""The Android backend: benchmark_model's command line and logs, and adb driven for real against a fake
``adb`` executable (a Python script first on PATH that logs its argv and plays a phone). No phone here."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import types
from pathlib import Path

import pytest
from torch import nn

from bench.runtime.backends import BackendUnavailable, ConversionError, RunSettings, android
from bench.runtime.backends.android import Adb, AndroidBackend, AndroidModel, device_status, parse_devices
from bench.runtime.benchmark_model import (
    BenchmarkModelError,
    benchmark_command,
    parse_benchmark_output,
    to_latency_stats,
)
from bench.runtime.devices import get_device
from bench.runtime.protocol import LatencySettings
from tests.conftest import FIXTURES

LOGS = FIXTURES / "benchmark_model"
SETTINGS = LatencySettings(warmup_runs=3, warmup_min_s=0.5, min_runs=20, min_s=1.0, max_s=60.0)
SERIAL = "R58M12ABCDE"
BINARY = "/data/local/tmp/benchmark_model"
TIMING = ["--warmup_runs=3", "--warmup_min_secs=0.5", "--num_runs=20", "--min_secs=1", "--max_secs=60"]


def log(name: str) -> str:
    return (LOGS / name).read_text()


# ---------------------------------------------------------------- parsing


def test_old_format_with_exponents_and_one_run_warmup() -> None:
    r = parse_benchmark_output(log("old_format_exponents.txt"))
    assert (r.init_us, r.first_us, r.warmup_avg_us, r.inference_avg_us) == (17187, 3512391, 3.51239e6, 2.95034e6)
    assert (r.count, r.min, r.max, r.avg, r.std) == (50, 2727568, 3189954, 2950340, 109798)
    assert r.median is None and r.p5 is None and r.median_is_mean
    s = to_latency_stats(r)
    assert s.median_ms == s.mean_ms == pytest.approx(2950.34)  # no percentiles: the mean stands in
    assert s.p90_ms is None and s.runs == 50 and s.stable is None
    assert s.cv == pytest.approx(109798 / 2950340) and s.min_ms == pytest.approx(2727.568)


def test_new_format_with_percentiles_takes_the_timed_phase() -> None:
    r = parse_benchmark_output(log("new_percentiles_cpu.txt"))
    assert (r.count, r.avg, r.p5, r.median, r.p95) == (20, 80244.9, 78902, 79981, 84310)  # not the warm-up's 7
    assert r.delegations[0].delegate == "TfLiteXNNPackDelegate" and (
        r.delegations[0].nodes,
        r.delegations[0].total,
    ) == (24, 24)
    s = to_latency_stats(r)
    assert s.median_ms == pytest.approx(79.981) and s.mean_ms == pytest.approx(80.2449)
    assert s.block_medians_ms == [pytest.approx(79.981)] and s.blocks == 1


def test_gpu_delegate_log_with_nonfatal_error_lines() -> None:
    r = parse_benchmark_output(log("gpu_delegate.txt"))
    assert r.median == 120512 and r.init_us == 1873520 and r.count == 20
    assert [(d.delegate, d.nodes, d.total) for d in r.delegations] == [("TfLiteGpuDelegateV2", 61, 63)]


def test_logcat_prefixes_and_crlf() -> None:
    prefix = "07-14 13:14:52.859 22838 22838 I tflite  : "
    text = "\r\n".join(prefix + line for line in log("new_percentiles_cpu.txt").splitlines())
    assert parse_benchmark_output(text) == parse_benchmark_output(log("new_percentiles_cpu.txt"))


def test_oldest_summary_and_all_same_timed_runs() -> None:
    text = (
        "Running benchmark for at least 1 iterations and at least 0.5 seconds\ncount=1 curr=1500\n\n"
        "Running benchmark for at least 3 iterations and at least 0 seconds\ncount=3 curr=1.5e+03(all same)\n\n"
        "Average inference timings in us: Warmup: 1500, Init: 1892, no stats: 1500\n"
    )
    r = parse_benchmark_output(text)
    assert (r.first_us, r.init_us, r.warmup_avg_us, r.count, r.min, r.max, r.std) == (
        None,
        1892,
        1500,
        3,
        1500,
        1500,
        0,
    )


def test_failure_is_a_clear_error() -> None:
    with pytest.raises(BenchmarkModelError, match=r"Failed to apply GPU delegate.*Benchmarking failed"):
        parse_benchmark_output(log("gpu_failure.txt"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no 'Inference timings' summary"),
        ("random \x00 garbage\nsegmentation fault\n", "segmentation fault"),
        ("/system/bin/sh: /data/local/tmp/benchmark_model: not found\n", "not found"),
        ("Error: model file missing\n", "Error: model file missing"),
        # killed during the timed runs: the warm-up line alone is never taken for them
        (log("new_percentiles_cpu.txt").split("\nINFO: Running benchmark for at least 20")[0], "summary"),
        # no headers and only the warm-up stats: they disagree with Inference (avg)
        (
            "count=7 first=98412 curr=80533 min=79870 max=98412 avg=83301.6 std=6180\n"
            "Inference timings in us: Init: 1, First inference: 2, Warmup (avg): 83301.6, Inference (avg): 80244.9\n",
            "disagrees",
        ),
        (
            "Running benchmark for at least 1 iterations\ncount=0\nInference timings in us: Init: 1, "
            "First inference: 0, Warmup (avg): 0, Inference (avg): 0\n",
            "timed no runs",
        ),
        (
            "Running benchmark for at least 1 iterations\nInference timings in us: Init: 1, "
            "First inference: 0, Warmup (avg): 0, Inference (avg): 0\n",
            "no statistics for the timed runs",
        ),
    ],
)
def test_garbage_and_truncated_logs(text: str, message: str) -> None:
    with pytest.raises(BenchmarkModelError, match=message):
        parse_benchmark_output(text)


# ---------------------------------------------------------------- command lines


@pytest.mark.parametrize(
    ("delegate", "flag"), [("cpu", "--use_xnnpack=true"), ("gpu", "--use_gpu=true"), ("nnapi", "--use_nnapi=true")]
)
def test_benchmark_command(delegate: str, flag: str) -> None:
    argv = benchmark_command("/data/local/tmp/bench/abc.tflite", delegate, 4, SETTINGS)
    assert argv == [BINARY, "--graph=/data/local/tmp/bench/abc.tflite", "--num_threads=4", *TIMING, flag,
                    "--enable_op_profiling=false"]  # fmt: skip


def test_benchmark_command_options_and_errors() -> None:
    quick = LatencySettings(warmup_runs=0, warmup_min_s=0, min_runs=5, min_s=0.25, max_s=1e3)
    argv = benchmark_command("m.tflite", "gpu", 1, quick, binary="/vendor/bm", extra_flags=["--gpu_backend=cl"])
    assert argv[0] == "/vendor/bm" and argv[-1] == "--gpu_backend=cl"
    assert argv[3:8] == ["--warmup_runs=0", "--warmup_min_secs=0", "--num_runs=5", "--min_secs=0.25", "--max_secs=1000"]
    with pytest.raises(ValueError, match="unknown delegate"):
        benchmark_command("m.tflite", "npu", 1, quick)
    with pytest.raises(ValueError, match="threads"):
        benchmark_command("m.tflite", "cpu", 0, quick)


def test_adb_argv_and_devices_listing() -> None:
    assert Adb(SERIAL).argv("push", "/tmp/a.tflite", "/data/local/tmp/bench/x.tflite") == [
        "adb", "-s", SERIAL, "push", "/tmp/a.tflite", "/data/local/tmp/bench/x.tflite"]  # fmt: skip
    assert Adb(None, "/opt/adb").argv("devices") == ["/opt/adb", "devices"]
    text = (
        "* daemon not running; starting now at tcp:5037\n* daemon started successfully\nList of devices attached\n"
        "R58M12ABCDE\tdevice\nemulator-5554\toffline\n0123456789ABCDEF\tunauthorized\n"
        "HT4A1JT00123\tno permissions (user in plugdev group; are your udev rules wrong?)\n\n"
    )
    assert parse_devices(text) == {
        SERIAL: "device", "emulator-5554": "offline", "0123456789ABCDEF": "unauthorized",
        "HT4A1JT00123": "no permissions (user in plugdev group; are your udev rules wrong?)"}  # fmt: skip


# ---------------------------------------------------------------- a fake adb on PATH


class FakePhone:
    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.root = tmp_path / "phone"
        self.log_path = tmp_path / "adb.log"
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        adb = bin_dir / "adb"
        adb.write_text(f"#!{sys.executable}\n" + (LOGS / "fake_adb.py").read_text())
        adb.chmod(adb.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        (self.root / BINARY.lstrip("/")).parent.mkdir(parents=True)
        (self.root / BINARY.lstrip("/")).write_bytes(b"\x7fELF")
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
        monkeypatch.setenv("FAKE_ADB_LOG", str(self.log_path))
        monkeypatch.setenv("FAKE_ADB_PHONE", str(self.root))
        monkeypatch.setenv("FAKE_ADB_SERIAL", SERIAL)
        monkeypatch.setenv("FAKE_ADB_BINARY", BINARY)
        self.set(devices=f"{SERIAL}\tdevice", output="gpu_delegate.txt")

    def set(self, devices: str | None = None, output: str | None = None, **env: str) -> None:
        if devices is not None:
            self.monkeypatch.setenv("FAKE_ADB_DEVICES", devices)
        if output is not None:
            self.monkeypatch.setenv("FAKE_ADB_OUTPUT", str(LOGS / output))
        for key, value in env.items():
            self.monkeypatch.setenv(f"FAKE_ADB_{key.upper()}", value)

    def calls(self) -> list[list[str]]:
        lines = self.log_path.read_text().splitlines() if self.log_path.exists() else []
        self.log_path.unlink(missing_ok=True)
        return [json.loads(line) for line in lines]


@pytest.fixture
def phone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePhone:
    return FakePhone(tmp_path, monkeypatch)


@pytest.fixture
def dummy_tflite(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "model.tflite"
    path.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(range(32)))
    return path, f"/data/local/tmp/bench/{hashlib.sha256(path.read_bytes()).hexdigest()}.tflite"


def open_model(path: Path, delegate: str = "gpu") -> AndroidModel:
    model = get_device(f"android:{SERIAL}/{delegate}").open().load_file(path)
    assert isinstance(model, AndroidModel)
    return model


def test_end_to_end_measure_through_fake_adb(phone: FakePhone, dummy_tflite: tuple[Path, str]) -> None:
    path, remote = dummy_tflite
    model = open_model(path)
    stats = model.measure((1, 3, 256, 256), SETTINGS)
    on = ["-s", SERIAL]
    bench = [BINARY, f"--graph={remote}", "--num_threads=4", *TIMING, "--use_gpu=true", "--enable_op_profiling=false"]
    assert phone.calls() == [
        ["devices"],  # Device.open(): the backend is available (some phone is ready)
        ["devices"],  # AndroidBackend(): this serial is ready
        [*on, "shell", "sha256sum", remote],  # not there yet
        [*on, "push", str(path), remote],
        [*on, "shell", "sha256sum", remote],  # verified after the push
        [*on, "shell", "ls", BINARY],
        [*on, "shell", *bench],
    ]
    assert (phone.root / remote.lstrip("/")).read_bytes() == path.read_bytes()
    assert (stats.median_ms, stats.mean_ms, stats.min_ms, stats.max_ms, stats.runs) == pytest.approx(
        (120.512, 120.934, 117.985, 126.703, 20)
    )
    assert stats.p90_ms is None and stats.cv == pytest.approx(2011 / 120934)
    model.measure((1, 3, 256, 256), SETTINGS)  # already on the phone: no push, no second binary check
    assert phone.calls() == [[*on, "shell", "sha256sum", remote], [*on, "shell", *bench]]
    info = model.describe()
    assert phone.calls() == [
        [*on, "shell", "getprop", p] for p in ("ro.product.model", "ro.board.platform", "ro.build.version.sdk")
    ]
    assert (info["model"], info["platform"], info["sdk"]) == ("Pixel 4", "msmnile", "33")
    assert info["command"] == " ".join(bench) and info["median_source"] == "benchmark_model median"
    assert info["delegations"] == ["TfLiteGpuDelegateV2: 61/63 nodes"] and info["init_ms"] == 1873.52
    assert info["timing_shape"] == "the file's input, unchecked"  # not a model the host can read


def test_cpu_without_percentiles_marks_the_mean(phone: FakePhone, dummy_tflite: tuple[Path, str]) -> None:
    phone.set(output="old_format_exponents.txt")
    model = open_model(dummy_tflite[0], "cpu")
    stats = model.measure((1, 3, 64, 64), SETTINGS)
    assert "--use_xnnpack=true" in phone.calls()[-1] and stats.median_ms == pytest.approx(2950.34)
    assert model.describe()["median_source"] == "mean (no percentiles printed)"


def test_module_is_converted_lazily_at_the_timing_shape(phone: FakePhone, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[object, ...]] = []

    def to_tflite(module: nn.Module, shape: tuple[int, ...], path: Path, precision: str = "fp32") -> object:
        calls.append((module, shape, path.suffix, precision))
        Path(path).write_bytes(b"TFL3" + repr(shape).encode())
        return types.SimpleNamespace(as_dict=lambda: {"format": "tflite", "input_shape": shape})

    monkeypatch.setitem(sys.modules, "bench.runtime.convert", types.SimpleNamespace(to_tflite=to_tflite))
    module = nn.Conv2d(3, 3, 3, padding=1)
    model = get_device(f"android:{SERIAL}/nnapi").open().load_module(module)
    assert calls == []  # the shape is only known at measure time
    model.measure((1, 3, 32, 48), SETTINGS)
    model.measure((1, 3, 32, 48), SETTINGS)
    assert calls == [(module, (1, 3, 32, 48), ".tflite", "fp32")]
    assert "--use_nnapi=true" in phone.calls()[-1]
    assert model.describe()["conversion"] == {"format": "tflite", "input_shape": (1, 3, 32, 48)}


def test_run_is_not_supported_on_the_phone(phone: FakePhone, dummy_tflite: tuple[Path, str]) -> None:
    model = open_model(dummy_tflite[0])
    with pytest.raises(BackendUnavailable, match="quality is computed on the host"):
        model.run(None)  # type: ignore[arg-type]


def test_a_file_is_only_timed_at_its_own_input_shape(phone: FakePhone, monkeypatch: pytest.MonkeyPatch) -> None:
    model = open_model(LOGS / "conv3x3_1x3x8x12.tflite", "cpu")
    assert model.file_shape == (1, 3, 8, 12)
    with pytest.raises(
        ConversionError, match=r"takes input \(1, 3, 8, 12\); it cannot be timed at NCHW \(1, 3, 16, 16\)"
    ):
        model.measure((1, 3, 16, 16), SETTINGS)
    assert [c for c in phone.calls() if "push" in c] == []  # refused before anything reached the phone
    model.measure((1, 3, 8, 12), SETTINGS)
    assert model.describe()["timing_shape"] == "the file's input, (1, 3, 8, 12)"
    monkeypatch.setattr(android, "tflite_input_shape", lambda path: (1, 8, 12, 3))
    open_model(LOGS / "conv3x3_1x3x8x12.tflite", "cpu").measure((1, 3, 8, 12), SETTINGS)  # NHWC files too


# ---------------------------------------------------------------- unavailable and failing


def test_no_adb_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert AndroidBackend.available() == (False, "adb is not on PATH (install Android SDK platform-tools)")
    with pytest.raises(BackendUnavailable, match="adb is not on PATH"):
        get_device(f"android:{SERIAL}").open()


@pytest.mark.parametrize(
    ("devices", "message"),
    [
        (f"{SERIAL}\tunauthorized", "has not authorised this computer"),
        (f"{SERIAL}\toffline", "is offline"),
        ("emulator-5554\tdevice", f"'{SERIAL}' is not connected \\(adb devices lists: emulator-5554 \\(device\\)\\)"),
        (f"{SERIAL}\trecovery", "in state 'recovery'"),
    ],
)
def test_phone_not_ready(phone: FakePhone, devices: str, message: str) -> None:
    phone.set(devices=devices)
    assert device_status(SERIAL)[0] is False
    with pytest.raises(BackendUnavailable, match=message):
        get_device(f"android:{SERIAL}/gpu").open()


def test_available_lists_every_phone(phone: FakePhone) -> None:
    phone.set(devices=f"{SERIAL}\tunauthorized\nemulator-5554\toffline")
    ok, why = AndroidBackend.available()
    assert not ok and why.startswith(f"no phone ready: phone '{SERIAL}' has not authorised this computer")
    assert why.endswith("phone 'emulator-5554' is offline: reconnect the cable or run `adb reconnect`")
    phone.set(devices=f"{SERIAL}\tdevice\nemulator-5554\toffline")
    ok, why = AndroidBackend.available()
    assert ok and why.endswith(f"phones: {SERIAL} (device), emulator-5554 (offline)")
    phone.set(devices="")
    assert AndroidBackend.available()[1].startswith("no phone connected")


def test_benchmark_model_failing(phone: FakePhone, dummy_tflite: tuple[Path, str]) -> None:
    phone.set(output="gpu_failure.txt", rc="1")
    model = open_model(dummy_tflite[0])
    with pytest.raises(BenchmarkModelError, match=rf"on {SERIAL} \(gpu\).*Failed to apply GPU delegate.*exit status 1"):
        model.measure((1, 3, 256, 256), SETTINGS)


def test_missing_binary_timeout_and_bad_push(phone: FakePhone, dummy_tflite: tuple[Path, str]) -> None:
    (phone.root / BINARY.lstrip("/")).unlink()
    with pytest.raises(BackendUnavailable, match=f"benchmark_model not found on {SERIAL} at {BINARY}.*chmod"):
        open_model(dummy_tflite[0]).measure((1, 3, 8, 8), SETTINGS)
    (phone.root / BINARY.lstrip("/")).write_bytes(b"\x7fELF")
    phone.set(sleep="5")
    backend = AndroidBackend(RunSettings(4, "fp32", {"serial": SERIAL, "delegate": "gpu", "init_timeout_s": 0.5}))
    quick = LatencySettings(warmup_runs=0, warmup_min_s=0, min_runs=1, min_s=0, max_s=0.1)
    with pytest.raises(BackendUnavailable, match=r"did not finish within 0\.7 s"):
        backend.load_file(dummy_tflite[0]).measure((1, 3, 8, 8), quick)
    (phone.root / dummy_tflite[1].lstrip("/")).unlink()
    phone.set(sleep="0", corrupt="1")
    with pytest.raises(BackendUnavailable, match="after the push"):
        open_model(dummy_tflite[0]).measure((1, 3, 8, 8), SETTINGS)


def test_bad_settings_and_files(phone: FakePhone, tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="needs options\\['serial'\\]"):
        AndroidBackend(RunSettings())
    with pytest.raises(BackendUnavailable, match="unknown android delegate"):
        AndroidBackend(RunSettings(options={"serial": SERIAL, "delegate": "dsp"}))
    with pytest.raises(ConversionError, match=r"times \.tflite files"):
        get_device(f"android:{SERIAL}").open().load_file(tmp_path / "model.onnx")


@pytest.mark.slow
def test_real_conversion_reaches_the_phone(phone: FakePhone) -> None:
    """The real ``bench.runtime.convert.to_tflite`` (litert-torch), at the timing shape, pushed and timed."""
    model = get_device(f"android:{SERIAL}/cpu").open().load_module(nn.Conv2d(3, 3, 3, padding=1))
    model.measure((1, 3, 16, 24), SETTINGS)
    pushed = next(c for c in phone.calls() if "push" in c)
    assert android.tflite_input_shape(Path(pushed[3])) in ((1, 3, 16, 24), (1, 16, 24, 3))
    info = model.describe()
    assert info["conversion"]["format"] == "tflite" and tuple(info["conversion"]["input_shape"]) == (1, 3, 16, 24)


def test_shell_words_are_quoted_for_the_phone(phone: FakePhone) -> None:
    Adb(SERIAL).shell("ls", "/data/local/tmp/my model.tflite", check=False)
    assert phone.calls() == [["-s", SERIAL, "shell", "ls", "'/data/local/tmp/my model.tflite'"]]


def test_portability_probe_on_a_phone_names_the_op_its_delegate_left(phone: FakePhone) -> None:
    from bench.optimize.portable.probe import portable_ops, probe_ops

    phone.set(output="gpu_full.txt", gpu_unsupported="RESIZE_BILINEAR",
              fallback_output=str(LOGS / "gpu_resize_fallback.txt"))  # fmt: skip
    probes = {p.op: p for p in probe_ops([get_device(f"android:{SERIAL}/gpu")], (1, 8, 16, 16),
                                         ["conv3x3", "resize-bilinear"])}  # fmt: skip
    assert probes["conv3x3"].status == "accelerated" and probes["conv3x3"].fallback_ops == []
    assert probes["resize-bilinear"].status == "fallback"
    assert probes["resize-bilinear"].fallback_ops == ["RESIZE_BILINEAR"]
    assert probes["conv3x3"].max_error is not None and probes["conv3x3"].max_error <= 1e-4  # checked on the host
    assert probes["conv3x3"].latency_ms == pytest.approx(120.512)  # the phone's median, from its log
    assert portable_ops(probes.values()) == {"conv3x3"}


def test_the_fallback_list_is_parsed_from_the_delegate_log() -> None:
    result = parse_benchmark_output((LOGS / "gpu_delegate.txt").read_text())
    assert result.fallback_ops == ("GATHER_ND",)
    assert parse_benchmark_output((LOGS / "gpu_full.txt").read_text()).fallback_ops == ()
