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
