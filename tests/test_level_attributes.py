"""Level attributes on hand-made maps: exact values, bins, conditioning layout, prompts, records, eval."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from genmedia.cli import cli
from genmedia.levels import attributes
from genmedia.levels.attributes import Bins, ControlTally, measure, parse_prompt
from genmedia.levels.tiles import level_from_lines

from conftest import flat_map, with_column

EDGES = {"enemies": (0.0, 1.0, 2.0), "pipes": (0.0, 1.0, 2.0), "gaps": (0.0, 3.0, 8.0),
         "blocks": (0.0, 3.0, 9.0), "coins": (0.0, 1.0, 3.0), "elevation": (1.2,)}


def hand_made() -> np.ndarray:
    """Two 16-column windows and a 4-column tail.

    Window 0: flat ground; enemies at columns 3 and 5; a pipe (head over one body row) at 8-9; a
    pipe head at 15-16 (counted where its `<` is); bricks and question blocks S?Q at 12-14; two coins.
    Window 1: a 4-column gap (16-19); ground 1 high at 20-23 and 28-31, 3 high at 24-27.
    Tail (32-35): ground 2 high, one enemy on it.
    """
    lines = flat_map(36, gaps=(range(16, 20),))
    lines = with_column(lines, 3, "E")
    lines = with_column(lines, 5, "E")
    lines = with_column(with_column(lines, 8, "[<"), 9, "]>")
    lines = with_column(with_column(lines, 15, "[<"), 16, "]>")
    rows = [list(r) for r in lines]  # (column 16 is a gap: that pipe hangs, which the measure does not mind)
    rows[8][12:15] = list("S?Q")
    rows[5][1:3] = list("oo")
    lines = ["".join(r) for r in rows]
    for c in range(24, 28):
        lines = with_column(lines, c, "XX")
    for c in range(32, 36):
        lines = with_column(lines, c, "X")
    lines = with_column(lines, 33, "XE")
    return level_from_lines(lines)


def test_measure_hand_made_windows_exactly():
    level = hand_made()
    got = measure(level)
    assert got["enemies"].tolist() == [2, 0, 1]
    assert got["pipes"].tolist() == [2, 0, 0]
    assert got["gaps"].tolist() == [0, 4, 0]
    assert got["blocks"].tolist() == [3, 0, 0]
    assert got["coins"].tolist() == [2, 0, 0]
    assert got["elevation"].tolist() == pytest.approx([1.0, (4 * 1 + 4 * 3 + 4 * 1) / 12, 2.0])


def test_bins_index_describe_and_bin_level():
    bins = Bins(EDGES)
    assert bins.index("enemies", [0, 1, 2, 3, 7]).tolist() == [0, 1, 2, 3, 3]
    assert bins.index("gaps", [0, 1, 3, 4, 8, 9]).tolist() == [0, 1, 1, 2, 2, 3]
    assert bins.index("elevation", [1.0, 1.2, 1.21]).tolist() == [0, 0, 1]
    assert bins.describe("enemies") == "none 0, few 1, some 2, many 3+"
    assert bins.describe("gaps") == "none 0, few 1-3, some 4-8, many 9+"
    assert bins.describe("elevation") == "low <= 1.2, high > 1.2"
    # enemies, pipes, gaps, blocks, coins, elevation per window
    assert bins.bin_level(hand_made()).tolist() == [[2, 2, 0, 1, 2, 0], [0, 0, 2, 0, 0, 1], [1, 0, 0, 0, 0, 1]]
    assert Bins.from_json(json.loads(json.dumps(bins.to_json()))) == bins


def test_fit_bins_from_corpus_quantiles():
    # 16-column windows of flat ground, with 0 enemies in most and 1, 2 or 5 in the others.
    levels = []
    for k in [0] * 6 + [1, 1, 2, 2, 5, 5]:
        lines = flat_map(16)
        for c in range(k):
            lines = with_column(lines, 2 * c + 1, "E")
        levels.append(level_from_lines(lines))
    bins = Bins.fit(levels)
    assert bins.edges["enemies"] == (0.0, 1.0, 2.0)  # none = 0 (half the windows), then the three positive values
    assert bins.edges["elevation"] == (1.0,)  # a single value: low holds it, high is empty
    assert attributes._even_split(np.array([0, 0, 0, 1, 1, 2, 3, 3, 3, 4]), 2) == [1.0]


def test_condition_layout_is_one_hot_bins_then_place_in_window():
    bins = Bins(EDGES)
    cond = attributes.condition(bins, np.array([[1, 0, 2, 3, 0, 1], [0, 0, 0, 0, 0, 0]]), steps=3, steps_per_window=2)
    assert cond.shape == (attributes.channels(bins, 2), 3) == (24, 3)
    first = np.flatnonzero(cond[:, 0]).tolist()
    assert first == [1, 4, 10, 15, 16, 21, 22]  # enemies few, pipes none, gaps some, blocks many, coins none,
    assert np.flatnonzero(cond[:, 1]).tolist() == first[:-1] + [23]  # elevation high; then steps 0 and 1 of it
    assert np.flatnonzero(cond[:, 2]).tolist() == [0, 4, 8, 12, 16, 20, 22]


@pytest.mark.parametrize("prompt, found, missed", [
    ("many pipes, no enemies, low elevation", {"pipes": "many", "enemies": "none", "elevation": "low"}, []),
    ("little pipes, many enemies, some blocks, high elevation",
     {"pipes": "few", "enemies": "many", "blocks": "some", "elevation": "high"}, []),
    ("A few gaps and lots of coins; enemies: none", {"gaps": "few", "coins": "many", "enemies": "none"}, []),
    ("many pipes with no enemies", {"pipes": "many", "enemies": "none"}, []),
    ("many pipes, purple clouds, fast, high elevation", {"pipes": "many", "elevation": "high"},
     ["purple clouds", "fast"]),
    ("3 pipes", {}, ["3 pipes"]),
])
def test_prompt_parsing(prompt, found, missed):
    assert parse_prompt(prompt) == (found, missed)


def test_spread_gives_equal_parts_in_order():
    assert attributes.spread(["none", "many"], 5) == ["none", "none", "none", "many", "many"]
    assert attributes.spread(["some"], 3) == ["some"] * 3


def test_record_round_trip_and_accuracy_on_hand_made_level():
    bins = Bins(EDGES)
    level = hand_made()
    asked = bins.bin_level(level)
    asked[1, 0] = 3  # ask window 1 for many enemies: it has none
    record = attributes.record(bins, asked, {"enemies": ["x"]}, model="m", width=level.shape[1])
    assert record["requested"] == {"enemies": ["some", "many", "few"]}
    assert record["others"]["elevation"] == ["low", "high", "high"]
    read, requested, others = attributes.read_record(json.loads(json.dumps(record)))
    assert read == bins and requested == record["requested"]
    # the tail window (4 columns) is not whole, so it is not scored
    assert attributes.accuracy(read, level, requested) == {"enemies": [("some", True), ("many", False)]}
    tally = ControlTally.empty()
    tally.add(attributes.accuracy(read, level, requested))
    tally.add(attributes.accuracy(read, level, others))
    report = tally.to_dict()
    assert report["enemies"] == {"some": {"windows": 1, "accuracy": 1.0}, "many": {"windows": 1, "accuracy": 0.0}}
    assert report["pooled"] == round(11 / 12, 4) and report["lowest"] == 0.0
    with pytest.raises(ValueError, match="not a genmedia level attributes record"):
        attributes.read_record({"format": "something else"})


def test_eval_reports_control_accuracy_from_level_and_json(tmp_path):
    bins = Bins(EDGES)
    level = hand_made()
    (tmp_path / "gen").mkdir()
    (tmp_path / "gen" / "level-000.txt").write_text("\n".join(bytes(r).decode() for r in level) + "\n")
    asked = bins.bin_level(level)
    asked[0, 4] = 0  # coins: none asked in window 0, which has two
    record = attributes.record(bins, asked, {"coins": ["none"], "gaps": ["few"]}, model="hand", width=36)
    (tmp_path / "gen" / "level-000.json").write_text(json.dumps(record))
    (tmp_path / "gen" / "level-001.txt").write_text("\n".join(flat_map(32)) + "\n")  # no record: not scored
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "r.txt").write_text("\n".join(flat_map(40)) + "\n")
    result = CliRunner().invoke(cli, ["level", "eval", str(tmp_path / "gen"), "--reference", str(tmp_path / "ref"),
                                      "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    # coins asked: none, none (window 0 has two: a miss); gaps: none, some, as the level has them
    assert report["control"]["coins"] == {"none": {"windows": 2, "accuracy": 0.5}}
    assert report["control"]["gaps"] == {"none": {"windows": 1, "accuracy": 1.0},
                                         "some": {"windows": 1, "accuracy": 1.0}}
    assert report["control"]["mean"] == round(2.5 / 3, 4) and report["control"]["lowest"] == 0.5
    assert report["control"]["pooled"] == 0.75
    assert report["control_others"]["pooled"] == 1.0
    text = CliRunner().invoke(cli, ["level", "eval", str(tmp_path / "gen"), "--reference", str(tmp_path / "ref")])
    assert "control coins  none 0.5 (2 windows)" in text.output
