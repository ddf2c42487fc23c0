"""The three model kinds share one design (`genmedia.runtime.Model`): one `load`, the task declared
once per class, ONNX files opened by role through one helper."""

from __future__ import annotations

import inspect

import pytest

from genmedia.errors import ModelError
from genmedia.image.denoise import Denoiser
from genmedia.levels.model import LevelModel
from genmedia.melody.model import MelodyModel
from genmedia.runtime import Model, OnnxModel

KINDS = [(LevelModel, "level", "smb-level-vae"), (MelodyModel, "melody", "melody-2bar"),
         (Denoiser, "denoise", "denoise-unet")]


@pytest.mark.parametrize("kind, task, name", KINDS)
def test_each_kind_loads_by_name_for_its_own_task(kind, task, name):
    assert issubclass(kind, Model) and kind.task == task
    assert "load" not in vars(kind)  # one `load` for every kind: Model's
    parameters = inspect.signature(kind.load).parameters
    assert list(parameters) == ["name", "threads"] and parameters["threads"].kind is inspect.Parameter.KEYWORD_ONLY
    model = kind.load(name, threads=1)
    assert isinstance(model, kind) and model.info.name == name and model.info.task == task
    assert model.threads == 1
    assert kind.load().info.name == name  # None: the task's default


@pytest.mark.parametrize("kind, task, name", KINDS)
def test_a_model_of_another_task_is_refused_by_name(kind, task, name):
    other = "denoise-unet" if task != "denoise" else "melody-2bar"
    with pytest.raises(ModelError, match=f"no {task} model named {other!r}"):
        kind.load(other)


def test_graphs_are_opened_by_role_and_shared_across_loads():
    level = LevelModel.load()
    encoder = level.graph("encoder")
    assert isinstance(encoder, OnnxModel) and encoder.path == level.info.file("encoder")
    assert encoder.session is level.encoder.session  # one session per file and process
    with pytest.raises(ModelError, match="has no 'conductor' file"):
        level.graph("conductor")
    assert MelodyModel.load("melody-16bar").conductor is not None and MelodyModel.load().conductor is None
