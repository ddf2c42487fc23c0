"""Small Mario's frame-by-frame physics against figures worked out from the engine's rules."""

from __future__ import annotations

import numpy as np
import pytest

from genmedia.levels import physics
from genmedia.levels.physics import JUMP, LEFT, RIGHT, SPEED, step


def _world(width: int = 40, rows: int = 14) -> physics.Level:
    solid = np.zeros((rows, width), dtype=bool)
    solid[-1] = True
    return physics.Level(solid)


def _settled(world: physics.Level) -> physics.Mario:
    mario = world.start()
    for _ in range(3):
        mario = step(world, mario, 0)
    return mario


def test_start_stands_on_column_0s_floor():
    world = _world()
    assert world.start().x == 8 and world.start().y == 12 * 16 + 15
    assert _settled(world).on_ground and _settled(world).may_jump


@pytest.mark.parametrize("accel, top", [(SPEED, physics.MAX_RUN), (0, 0.6 * 0.89 / 0.11 + 0.6)])
def test_top_speeds_walking_and_running(accel, top):
    world, mario = _world(200), None
    mario = _settled(world)
    xs = []
    for _ in range(120):
        mario = step(world, mario, RIGHT | accel)
        xs.append(mario.x)
    assert xs[-1] - xs[-2] == pytest.approx(top, abs=0.01)  # 10.9 px/frame running, 5.45 walking


def test_a_held_jump_rises_66_5_pixels_and_a_tap_much_less():
    world = _world()
    rise = {}
    for hold in (1, 8):
        mario = _settled(world)
        ground, top = mario.y, mario.y
        for frame in range(30):
            mario = step(world, mario, JUMP if frame < hold else 0)
            top = min(top, mario.y)
        rise[hold] = ground - top
    assert rise[8] == pytest.approx(66.5, abs=0.01)  # (7 + 7 + 6 + ... + 1) * 1.9: just over 4 tiles
    assert rise[1] < 30


def test_jump_must_be_released_between_jumps():
    world = _world()
    mario = world.start()
    for _ in range(40):
        mario = step(world, mario, JUMP)  # held from the first frame: never a fresh press on the ground
    assert mario.on_ground and mario.y == 12 * 16 + 15


def test_terminal_fall_speed_and_death_below_the_map():
    world = physics.Level(np.zeros((40, 4), dtype=bool))
    mario = physics.Mario(8.0, 0.0)
    for _ in range(60):
        mario = step(world, mario, 0)
    assert mario.ya == pytest.approx(physics.GRAVITY / (1 - physics.DRAG) * physics.DRAG + physics.GRAVITY, abs=0.01)
    assert physics.dead(world, mario)


def test_head_bump_ends_the_jump():
    solid = np.zeros((14, 10), dtype=bool)
    solid[-1] = True
    solid[10, :] = True  # a ceiling with two free rows under it
    world = physics.Level(solid)
    mario = _settled(world)
    heads = []
    for _ in range(8):
        mario = step(world, mario, JUMP)
        heads.append(mario.y - physics.HEIGHT)
    assert min(heads) == 11 * 16  # his head stops at the ceiling's underside
    assert mario.jump_time == 0 and mario.ya > 0  # and the jump's impulse is gone


def test_walls_stop_him():
    solid = np.zeros((14, 10), dtype=bool)
    solid[-1] = True
    solid[9:13, 5] = True
    world = physics.Level(solid)
    mario = _settled(world)
    for _ in range(40):
        mario = step(world, mario, RIGHT | SPEED)
    assert mario.x == 5 * 16 - physics.HALF_WIDTH - 1 and mario.xa < 1


def test_left_edge_clamps():
    world = _world()
    mario = _settled(world)
    for _ in range(10):
        mario = step(world, mario, LEFT | SPEED)
    assert mario.x == 0.0
