"""The task schema and registry."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench.tasks import TaskError, all_tasks, get_task, parse_task

FIRST_TASKS = ["sr-set5-x2", "sr-set5-x3", "sr-set5-x4", "sr-set14-x2", "sr-set14-x3", "sr-set14-x4"]


def test_every_task_file_loads_and_first_tasks_exist() -> None:
    tasks = all_tasks()
    for task_id in FIRST_TASKS:
        assert task_id in tasks
    demo_kinds = {t.kind for t in tasks.values() if t.demo}
    assert demo_kinds == {"sr", "deblur", "lowlight", "denoise", "inpaint"}


def test_sr_tasks_state_the_literature_protocol() -> None:
    for scale in (2, 3, 4):
        task = get_task(f"sr-set5-x{scale}")
        assert task.scale == scale
        assert task.metric.colour == "y" and task.metric.crop_border == scale
        assert task.metric.ssim == "wang-gaussian" and task.metric.output_rounding == "clamp-round-uint8"
        assert any(r.method == "bicubic" for r in task.references)


def _write(tmp_path: Path, data: dict[str, object], name: str | None = None) -> Path:
    path = tmp_path / f"{name or data['id']}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _base() -> dict[str, object]:
    return get_task("sr-set5-x2").model_dump(mode="json")


def test_unknown_key_is_rejected(tmp_path: Path) -> None:
    data = _base()
    data["colour_space"] = "y"
    with pytest.raises(TaskError, match="colour_space"):
        parse_task(_write(tmp_path, data))
    nested = _base()
    nested["metric"]["crop"] = 2  # type: ignore[index]
    with pytest.raises(TaskError, match="crop"):
        parse_task(_write(tmp_path, nested))


def test_unknown_degradation_source_and_id_mismatch_are_rejected(tmp_path: Path) -> None:
    data = _base()
    data["degradation"] = {"name": "jpeg-magic", "params": {}}
    with pytest.raises(TaskError, match="unknown degradation"):
        parse_task(_write(tmp_path, data))
    data = _base()
    data["data"]["source"] = "zip-file"  # type: ignore[index]
    with pytest.raises(TaskError, match="unknown data source"):
        parse_task(_write(tmp_path, data))
    with pytest.raises(TaskError, match="must equal the file name"):
        parse_task(_write(tmp_path, _base(), name="other-name"))


def test_sr_task_needs_scale(tmp_path: Path) -> None:
    data = _base()
    data["scale"] = None
    with pytest.raises(TaskError, match="scale"):
        parse_task(_write(tmp_path, data))


def test_unknown_task_lists_known_ids() -> None:
    with pytest.raises(TaskError, match="sr-set5-x2"):
        get_task("sr-set6-x2")


def test_a_task_file_includes_a_base_and_overrides_it_key_by_key(tmp_path: Path) -> None:
    """``include`` as in lm-evaluation-harness: the base is read first, mappings merge key by key."""
    from bench.definitions import load_definition
    from bench.tasks import Task

    (tmp_path / "_base").mkdir()
    (tmp_path / "_base" / "root.yaml").write_text(
        "version: 1\nkind: denoise\nmetric: {colour: rgb, crop_border: 0}\nlatency: {input_shape: [1, 3, 64, 64]}\n"
    )
    (tmp_path / "_base" / "awgn.yaml").write_text(
        "include: root.yaml\ndata: {source: image-folder, colour: rgb}\ndegradation: {name: awgn}\n"
    )
    (tmp_path / "noisy.yaml").write_text(
        "include: _base/awgn.yaml\nid: noisy\ntitle: t\ndata: {path: Kodak24, colour: grey}\n"
        "degradation: {params: {sigma: 15}}\nlatency: {input_shape: [1, 1, 32, 32]}\n"
    )
    task = load_definition(tmp_path / "noisy.yaml", Task, TaskError, "task")
    assert (task.data.source, task.data.path, task.data.colour) == ("image-folder", "Kodak24", "grey")
    assert (task.degradation is not None and task.degradation.name, task.degradation and task.degradation.params) == (
        "awgn",
        {"sigma": 15},
    )
    assert task.latency.input_shape == (1, 1, 32, 32) and task.metric.colour == "rgb" and task.version == 1


def test_include_errors_name_the_file(tmp_path: Path) -> None:
    from bench.definitions import load_definition
    from bench.tasks import Task

    (tmp_path / "a.yaml").write_text("include: b.yaml\nid: a\n")
    (tmp_path / "b.yaml").write_text("include: a.yaml\n")
    with pytest.raises(TaskError, match="includes it again"):
        load_definition(tmp_path / "a.yaml", Task, TaskError, "task")
    (tmp_path / "c.yaml").write_text("include: missing.yaml\nid: c\n")
    with pytest.raises(TaskError, match=r"missing\.yaml"):
        load_definition(tmp_path / "c.yaml", Task, TaskError, "task")
    (tmp_path / "d.yaml").write_text("include: [x]\nid: d\n")
    with pytest.raises(TaskError, match="must name a YAML file"):
        load_definition(tmp_path / "d.yaml", Task, TaskError, "task")


def test_task_families_are_short_files_over_a_shared_base() -> None:
    """The shipped families (45 tasks) each include a base in tasks/_base, which is not itself a task."""
    from bench.paths import TASKS_DIR

    including = [p for p in TASKS_DIR.glob("*.yaml") if p.read_text().count("include: _base/") == 1]
    assert len(including) >= 45
    assert all(len(p.read_text().splitlines()) <= 45 for p in including)
    assert not any(t.startswith("_") for t in all_tasks())
