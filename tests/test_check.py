"""The physics-grounded playability check on small hand-made maps."""

from __future__ import annotations

import pytest

from genmedia.levels import physics
from genmedia.levels.check import check_playable, solid_mask
from genmedia.levels.tiles import level_from_lines

from conftest import flat_map, with_column


def _check(lines, **kw):
    return check_playable(level_from_lines(lines), **kw)


@pytest.mark.parametrize("gap", [1, 4, 8, 10])
def test_gaps_a_running_jump_clears(gap):
    result = _check(flat_map(60, gaps=(range(20, 20 + gap),)))
    assert result.playable and result.furthest == 59


@pytest.mark.parametrize("gap", [11, 13])
def test_gaps_too_wide_fail_with_a_reason(gap):
    result = _check(flat_map(60, gaps=(range(20, 20 + gap),)))
    assert not result.playable
    assert result.furthest == 19
    assert f"stuck at column 20: a {gap}-column gap" in result.reason


def test_a_short_runway_limits_the_jump():
    assert _check(flat_map(60, gaps=(range(4, 14),))).playable  # 4 columns to speed up: 10 across
    assert not _check(flat_map(24, gaps=(range(1, 11),)), thorough=True).playable  # 1 column: not enough speed


def test_wall_of_four_passes_and_five_fails():
    assert _check(with_column(flat_map(20), 10, "XXXX")).playable  # a full jump rises 66.5 px, 4 tiles are 64
    result = _check(with_column(flat_map(20), 10, "XXXXX"))
    assert not result.playable
    assert "too high" in result.reason and result.furthest == 9


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
    lines = flat_map(24, gaps=(range(12, 17),))
    lines[11] = "X" * 24  # a ceiling two rows above the ground: he bumps his head and cannot clear the gap
    lines[12] = "-" * 24
    assert not _check(lines, thorough=True).playable
    lines[11] = "-" * 24
    assert _check(lines).playable


def test_the_sky_above_the_map_is_open():
    lines = ["-" * 30] * 3 + ["X" * 30] + ["-" * 30] * 10  # floor in row 4: Mario's head is near the top
    wall = [row[:10] + "X" + row[11:] for row in lines[:3]] + lines[3:]
    assert _check(wall).playable  # jumps over a wall that reaches the top of the map


def test_no_ground_at_the_start():
    result = _check(flat_map(30, gaps=(range(0, 10),)))
    assert not result.playable and "no floor to start on" in result.reason


def test_a_pass_comes_with_inputs_the_engine_plays_to_the_end():
    lines = with_column(with_column(flat_map(50, gaps=(range(30, 35),)), 12, "XXX"), 20, "SS")
    level = level_from_lines(lines)
    result = check_playable(level)
    world = physics.Level(solid_mask(level))
    won, states = physics.replay(world, list(result.actions))
    assert result.playable and won and states[-1].x > (50 - 1) * 16
    assert not physics.replay(world, list(result.actions[: len(result.actions) // 2]))[0]


def test_thorough_agrees_on_playable_maps_and_only_searches_more():
    lines = with_column(flat_map(40, gaps=(range(20, 26),)), 10, "XXX")
    fast, strict = _check(lines), _check(lines, thorough=True)
    assert fast.playable and strict.playable
    impossible = flat_map(18, gaps=(range(4, 16),))
    fast, strict = _check(impossible), _check(impossible, thorough=True)
    assert not fast.playable and not strict.playable and strict.searched >= fast.searched


def _timed_start_map():
    # a morph step of the shipped model: the fast search crosses the start but gives up at column 114,
    # where the way on needs a jump the frame-level search finds
    from pathlib import Path

    from genmedia.levels.tiles import read_level
    return read_level(Path(__file__).parent / "data" / "level-timed-start.txt")


def test_thorough_goes_on_from_where_the_fast_search_stopped():
    level = _timed_start_map()
    fast, strict = check_playable(level), check_playable(level, thorough=True)
    assert not fast.playable and fast.furthest >= 100
    # the frame-level search from the start alone gave up at column 3 on this map
    assert strict.playable
    won, _ = physics.replay(physics.Level(solid_mask(level)), list(strict.actions))
    assert won  # its route, played frame by frame from the start, reaches the exit


def test_a_pass_from_a_replayed_route_is_confirmed_from_the_start():
    level = _timed_start_map()
    route = check_playable(level, thorough=True).actions  # a real route to the exit
    # replaying it wins, but the fast search from the start does not: the verdict is the fresh one's,
    # the one `level check` gives for the file alone
    resumed = check_playable(level, prefix=route, keep_left_of=level.shape[1])
    assert not resumed.playable
    assert resumed.reason == check_playable(level).reason
