"""Small Mario's physics, frame by frame, as the Mario AI framework's engine moves him.

Rules and constants were learned from the framework's `engine/sprites/Mario.java` and
`engine/core/MarioLevel.java` (Togelius, Karakovskiy, Baumgarten et al.); this is an
independent re-implementation. Units: pixels and frames; a tile is 16 x 16 pixels, `x`
is the centre of Mario's hit box and `y` the bottom (his feet), y growing downwards.

Per frame: holding jump on the ground (after it was released) starts a jump of
`JUMP_FRAMES` frames of impulse; holding it on later frames keeps the impulse going,
each frame's upward speed `jump_time * JUMP_SPEED`. Left/right add `WALK_ACCEL` (or
`RUN_ACCEL` with speed held) to the horizontal speed; then Mario moves, x first, then
y, colliding with solid tiles at his hit box's corners (a head bump ends the jump);
then speeds decay (`INERTIA` horizontally, `DRAG` vertically) and gravity adds
`GRAVITY` in the air. So his top speeds are 5.5 px/frame walking and 10.9 running,
the terminal fall speed 20 px/frame, and a full jump rises 66.5 px (4 tiles).
The map's sky is open upwards (rows above it are empty), columns left of 0 and right
of the last repeat the edge column, and Mario dies once his feet are `FALL_DEATH`
pixels below the map. He wins when `x` passes the last column's left edge.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

TILE = 16  # pixels
HALF_WIDTH = 4  # pixels either side of x: small Mario's hit box is 8 x 12
HEIGHT = 12  # pixels, small Mario
WALK_ACCEL, RUN_ACCEL = 0.6, 1.2  # px/frame added per frame of left/right (speed button: run)
INERTIA = 0.89  # horizontal speed kept per frame, on the ground and in the air
DRAG = 0.85  # vertical speed kept per frame
GRAVITY = 3.0  # px/frame added per frame in the air
JUMP_SPEED = -1.9  # px/frame of upward speed per remaining jump frame
JUMP_FRAMES = 7  # frames of impulse a held jump gets
MIN_SPEED = 0.5  # horizontal speeds below this snap to 0
STEP_LIMIT = 8.0  # pixels: longer moves are made in steps of this size
FALL_DEATH = TILE  # pixels below the map's bottom edge
MAX_RUN = RUN_ACCEL * INERTIA / (1 - INERTIA) + RUN_ACCEL  # 10.9 px/frame: the most x moves in a frame

LEFT, RIGHT, JUMP, SPEED = 1, 2, 4, 8  # action bits


class Mario(NamedTuple):
    """Everything the engine keeps for small Mario between frames."""

    x: float
    y: float
    xa: float = 0.0
    ya: float = 0.0
    on_ground: bool = False
    jump_time: int = 0
    may_jump: bool = False


class Level:
    """A map's solid tiles, indexed for the engine's collision tests."""

    def __init__(self, solid: np.ndarray) -> None:
        self.rows, self.width = int(solid.shape[0]), int(solid.shape[1])
        self.columns = [[bool(v) for v in col] for col in solid.T]  # columns[x][y]: faster than numpy here
        self.exit_x = (self.width - 1) * TILE  # win once x is past this
        self.death_y = self.rows * TILE + FALL_DEATH

    def blocking(self, x_tile: int, y_tile: int) -> bool:
        if y_tile < 0 or y_tile >= self.rows:
            return False
        return self.columns[min(max(x_tile, 0), self.width - 1)][y_tile]

    def start(self) -> Mario:
        """Where the framework puts Mario: column 0, standing on its lowest floor (falling in if none)."""
        row, seen_solid = -1, False  # the framework's findFirstFloor: the top of the lowest solid run
        for y in range(self.rows - 1, -1, -1):
            if self.columns[0][y]:
                seen_solid = True
            elif seen_solid:
                row = y
                break
        return Mario(8.0, row * TILE + 15.0)


def _blocked(level: Level, m: list[float], px: float, py: float) -> bool:
    """Is the tile holding pixel (px, py) solid? Never the tile Mario's own anchor (x, y) is in."""
    xt, yt = int(px / TILE), int(py / TILE)  # int() truncates towards 0, like Java's cast
    if yt < 0 or yt >= level.rows or (xt == int(m[0] / TILE) and yt == int(m[1] / TILE)):
        return False
    return level.columns[0 if xt < 0 else (xt if xt < level.width else level.width - 1)][yt]


def _move(level: Level, m: list[float], xa: float, ya: float) -> bool:
    """Move Mario (m = [x, y, xa, ya, on_ground, jump_time]) by (xa, ya); False if he collided.

    Moves longer than `STEP_LIMIT` go in steps of that size, stopping at the first collision.
    """
    if xa > STEP_LIMIT or xa < -STEP_LIMIT or ya > STEP_LIMIT or ya < -STEP_LIMIT:
        while xa > STEP_LIMIT:
            if not _move(level, m, STEP_LIMIT, 0.0):
                return False
            xa -= STEP_LIMIT
        while xa < -STEP_LIMIT:
            if not _move(level, m, -STEP_LIMIT, 0.0):
                return False
            xa += STEP_LIMIT
        while ya > STEP_LIMIT:
            if not _move(level, m, 0.0, STEP_LIMIT):
                return False
            ya -= STEP_LIMIT
        while ya < -STEP_LIMIT:
            if not _move(level, m, 0.0, -STEP_LIMIT):
                return False
            ya += STEP_LIMIT
    x, y = m[0] + xa, m[1] + ya
    hit = False
    if ya > 0:
        hit = (_blocked(level, m, x - HALF_WIDTH, y) or _blocked(level, m, x + HALF_WIDTH, y)
               or _blocked(level, m, x - HALF_WIDTH, y + 1) or _blocked(level, m, x + HALF_WIDTH, y + 1))
    elif ya < 0:
        hit = (_blocked(level, m, x, y - HEIGHT) or _blocked(level, m, x - HALF_WIDTH, y - HEIGHT)
               or _blocked(level, m, x + HALF_WIDTH, y - HEIGHT))
    if xa and not hit:
        side = x + HALF_WIDTH if xa > 0 else x - HALF_WIDTH
        hit = (_blocked(level, m, side, y - HEIGHT) or _blocked(level, m, side, y - HEIGHT // 2)
               or _blocked(level, m, side, y))
    if not hit:
        m[0], m[1] = x, y
        return True
    if xa < 0:
        m[0] = int((m[0] - HALF_WIDTH) / TILE) * TILE + HALF_WIDTH
        m[2] = 0.0
    elif xa > 0:
        m[0] = int((m[0] + HALF_WIDTH) / TILE + 1) * TILE - HALF_WIDTH - 1
        m[2] = 0.0
    if ya < 0:  # bumped his head: the jump is over
        m[1] = int((m[1] - HEIGHT) / TILE) * TILE + HEIGHT
        m[5] = 0
        m[3] = 0.0
    elif ya > 0:
        m[1] = int((m[1] - 1) / TILE + 1) * TILE - 1
        m[4] = True
    return False


def step(level: Level, mario: Mario, action: int) -> Mario:
    """One frame of the engine with the given action bits (LEFT | RIGHT | JUMP | SPEED)."""
    x, y, xa, ya, on_ground, jump_time, may_jump = mario
    accel = RUN_ACCEL if action & SPEED else WALK_ACCEL
    if action & JUMP:
        if on_ground and may_jump:
            jump_time = JUMP_FRAMES
            ya = jump_time * JUMP_SPEED
            on_ground = False
        elif jump_time > 0:
            ya = jump_time * JUMP_SPEED
            jump_time -= 1
    else:
        jump_time = 0
    if action & LEFT:
        xa -= accel
    if action & RIGHT:
        xa += accel
    may_jump = on_ground and not action & JUMP
    if abs(xa) < MIN_SPEED:
        xa = 0.0
    m = [x, y, xa, ya, False, jump_time]
    _move(level, m, m[2], 0.0)
    _move(level, m, 0.0, m[3])
    x, y, xa, ya = m[:4]
    on_ground, jump_time = bool(m[4]), int(m[5])
    if x < 0:
        x, xa = 0.0, 0.0
    ya *= DRAG
    xa *= INERTIA
    if not on_ground:
        ya += GRAVITY
    return Mario(x, y, xa, ya, on_ground, jump_time, may_jump)


def won(level: Level, mario: Mario) -> bool:
    return mario.x > level.exit_x


def dead(level: Level, mario: Mario) -> bool:
    return mario.y > level.death_y


def replay(level: Level, actions: list[int], start: Mario | None = None) -> tuple[bool, list[Mario]]:
    """Play an input sequence from the start; (won, the states after each frame, up to the end)."""
    mario = level.start() if start is None else start
    states = []
    for action in actions:
        mario = step(level, mario, action)
        states.append(mario)
        if won(level, mario):
            return True, states
        if dead(level, mario):
            return False, states
    return False, states
