"""The shipped conditional model (smb-level-cvae) from the command line: it makes what is asked for."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from genmedia.cli import cli
from genmedia.levels.check import check_playable
from genmedia.levels.model import LevelModel
from genmedia.levels.repair import find_structure_errors
from genmedia.levels.tiles import read_level
from genmedia.resources import resource_dir

EXAMPLES = resource_dir("assets") / "levels"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def measured(folder, name):
    vae = LevelModel.load("smb-level-cvae")
    column = vae.bins.names.index(name)
    out = []
    for path in sorted(folder.glob("*.txt")):
        level = read_level(path)
        out += [vae.bins.labels(name)[k] for k in vae.bins.bin_level(level)[: level.shape[1] // 16, column]]
    return out


def test_asking_for_bins_uses_the_conditional_model_and_gets_them(tmp_path):
    result = run("level", "sample", "--count", "4", "--width", "96", "--seed", "3", "--enemies", "none",
                 "--coins", "many", "--no-png", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "level-000.json").read_text())
    assert record["model"] == "smb-level-cvae" and record["requested"]["enemies"] == ["none"] * 6
    assert measured(tmp_path, "enemies") == ["none"] * 24
    assert measured(tmp_path, "coins").count("many") >= 20
    for path in tmp_path.glob("*.txt"):
        level = read_level(path)
        assert check_playable(level).playable and find_structure_errors(level) == []


def test_prompt_and_parts(tmp_path):
    result = run("level", "sample", "--count", "3", "--width", "64", "--seed", "0", "--no-png",
                 "--prompt", "no pipes, many gaps then what", "--elevation", "low,high", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    assert "prompt: did not understand 'many gaps then what'" in result.output
    record = json.loads((tmp_path / "level-001.json").read_text())
    assert record["requested"] == {"pipes": ["none"] * 4, "elevation": ["low", "low", "high", "high"]}
    assert measured(tmp_path, "pipes") == ["none"] * 12


def test_transform_an_example_to_many_enemies(tmp_path):
    out = tmp_path / "many.txt"
    source = EXAMPLES / "example-a.txt"
    result = run("level", "transform", source, "--enemies", "many", "-o", out)
    assert result.exit_code == 0, result.output
    assert f"wrote {out} (--enemies many): enemies in its bin in 5 of 5 windows" in result.output
    level, before = read_level(out), read_level(source)
    assert check_playable(level).playable
    others = (before != ord("-")) & (before != ord("E"))
    assert (level[others] == before[others]).mean() >= 0.7
    assert json.loads(out.with_suffix(".json").read_text())["input"] == str(source)
    assert np.array_equal(level, read_level(out))


@pytest.mark.parametrize("attr, label", [("pipes", "many"), ("gaps", "some"), ("elevation", "high")])
def test_transform_searches_the_windows_that_miss_their_bin(tmp_path, attr, label):
    # With the latents moved only toward the nearest training windows of the most matching bins,
    # example-a reached these bins in 4, 4 and 3 of its 5 windows; the search over candidates that
    # match the asked-for bin first reaches all 5.
    out = tmp_path / "out.txt"
    source = EXAMPLES / "example-a.txt"
    result = run("level", "transform", source, f"--{attr}", label, "-o", out)
    assert result.exit_code == 0, result.output
    assert f"{attr} in its bin in 5 of 5 windows" in result.output
    level, before = read_level(out), read_level(source)
    assert check_playable(level).playable
    if attr == "pipes":  # what a pipe does not stand on stays
        others = (before != ord("-")) & ~np.isin(before, [ord(c) for c in "<>[]"])
        assert (level[others] == before[others]).mean() >= 0.7
