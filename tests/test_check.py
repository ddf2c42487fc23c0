"""The playability checker on small hand-made maps."""

from __future__ import annotations

import pytest

from genmedia.levels.check import check_playable
from genmedia.levels.tiles import level_from_lines

from conftest import flat_map, with_column


def _check(lines):
    return check_playable(level_from_lines(lines))


@pytest.mark.parametrize("gap", [1, 4, 8])
def test_gaps_mario_can_jump(gap):
    assert _check(flat_map(60, gaps=(range(20, 20 + gap),))).playable


@pytest.mark.parametrize("gap", [9, 12])
def test_gaps_too_wide_fail_with_a_reason(gap):
    result = _check(flat_map(60, gaps=(range(20, 20 + gap),)))
    assert not result.playable
    assert result.furthest == 19
    assert f"a {gap}-column gap" in result.reason


def test_wall_of_four_passes_and_five_fails():
    assert _check(with_column(flat_map(30), 15, "XXXX")).playable
    result = _check(with_column(flat_map(30), 15, "XXXXX"))
    assert not result.playable
    assert "too high" in result.reason and result.furthest == 14


def test_staircase_higher_than_a_jump_is_climbable():
    lines = flat_map(40)
    for step in range(8):
        lines = with_column(lines, 10 + step, "X" * (step + 1))
    assert _check(lines).playable


def test_pipe_is_solid_and_enemy_is_not():
    assert _check(with_column(flat_map(30), 12, "E")).playable
    blocked = with_column(with_column(flat_map(30), 12, "[[[[<"), 13, "]]]]>")
    assert not _check(blocked).playable


def test_ceiling_blocks_a_jump():
    lines = flat_map(40, gaps=(range(20, 25),))
    lines[11] = "X" * 40  # a ceiling two rows above the ground: no room to jump the gap
    lines[12] = "-" * 40
    assert not _check(lines).playable


def test_no_ground_at_the_start():
    result = _check(flat_map(30, gaps=(range(0, 10),)))
    assert not result.playable and "no ground to start on" in result.reason
