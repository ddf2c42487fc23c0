"""Playability: can small Mario get from the left edge to the right edge?

A breadth-first search over Mario's states, one tile per move. Mario occupies one tile.
On the ground he walks one column or starts a jump; a jump rises up to `JUMP_RISE` rows,
drifting at most one column per row, may take one level step at its apex, then falls,
again drifting at most one column per row. So his longest jump between tiles of equal
height spans 9 columns (a gap of 8) and his highest is 4 rows, the reach of the longest
and highest arcs in VGLC's `SMB_estimated_jumps.json` ([9, 0] and 4 up). Enemies are
passable (they can be stomped or avoided); tiles above the map are open sky; falling
below the bottom row is death. The level is complete when any column-(W-1) state is reached.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

JUMP_RISE = 4  # rows a jump can climb
SKY_ROWS = JUMP_RISE + 1  # open rows Mario may use above the map
SMB_SOLID = frozenset("XS?Q<>[]Bb")

GROUND, FALL = 0, 1  # search modes; _RISE0 + k is rising with k more rows to climb (k < JUMP_RISE)
_RISE0 = 2
_MODES = _RISE0 + JUMP_RISE


@dataclass(frozen=True)
class PlayResult:
    """Outcome of the check: whether the right edge is reachable, and how far Mario got."""

    playable: bool
    furthest: int  # the right-most column Mario stood on (or reached, when playable)
    width: int
    reason: str  # empty when playable

    def describe(self) -> str:
        return "playable" if self.playable else f"not playable: {self.reason}"


def _solid_mask(level: np.ndarray, solid: frozenset[str]) -> np.ndarray:
    lut = np.zeros(256, dtype=bool)
    lut[[ord(c) for c in solid]] = True
    return lut[level]


def check_playable(level: np.ndarray, *, solid: frozenset[str] = SMB_SOLID) -> PlayResult:
    """Search the level (rows, cols of ASCII codes) for a path from the left to the right edge."""
    rows, width = level.shape
    height = rows + SKY_ROWS  # row index r in the search is map row r - SKY_ROWS
    blocked = np.zeros((height + 1, width), dtype=bool)
    blocked[SKY_ROWS:rows + SKY_ROWS] = _solid_mask(level, solid)
    block = blocked.tolist()  # python lists: much faster than numpy for scalar access
    start = _start(block, height, width)
    if start is None:
        return PlayResult(False, -1, width, "no ground to start on in the first 8 columns")
    seen = bytearray(height * width * _MODES)
    queue = deque([start])
    seen[(start[1] * width + start[0]) * _MODES + GROUND] = 1
    furthest = start[0]

    def push(x: int, y: int, mode: int) -> None:
        if mode == FALL and y + 1 < height and block[y + 1][x]:
            mode = GROUND
        key = (y * width + x) * _MODES + mode
        if not seen[key]:
            seen[key] = 1
            queue.append((x, y, mode))

    while queue:
        x, y, mode = queue.popleft()
        if x == width - 1:
            return PlayResult(True, x, width, "")
        if mode == GROUND and x > furthest:
            furthest = x
        for nx, ny, nmode in _moves(block, x, y, mode, height, width):
            push(nx, ny, nmode)
    return PlayResult(False, furthest, width, _diagnose(level, furthest, solid))


def _free(block: list[list[bool]], x: int, y: int, width: int) -> bool:
    return 0 <= x < width and y >= 0 and not block[y][x]


def _moves(block, x: int, y: int, mode: int, height: int, width: int):
    """Yield the states reachable in one move; a FALL into row `height` (below the map) is death."""
    if mode == GROUND:
        for dx in (-1, 1):
            if _free(block, x + dx, y, width):
                yield x + dx, y, FALL  # walking; FALL becomes GROUND when there is floor
        for dx in (-1, 0, 1):
            if _free(block, x + dx, y - 1, width) and (dx == 0 or _free(block, x + dx, y, width)):
                yield x + dx, y - 1, _RISE0 + JUMP_RISE - 1
        return
    if mode == FALL:
        if y + 1 >= height:
            return
        for dx in (-1, 0, 1):
            if _free(block, x + dx, y + 1, width) and (dx == 0 or _free(block, x + dx, y, width)):
                yield x + dx, y + 1, FALL
        return
    left = mode - _RISE0  # rising, with `left` more rows to climb
    if left > 0:
        for dx in (-1, 0, 1):
            if _free(block, x + dx, y - 1, width) and (dx == 0 or _free(block, x + dx, y, width)):
                yield x + dx, y - 1, mode - 1
    yield x, y, FALL  # stop rising (or bumped a block)
    for dx in (-1, 1):  # one level step at the apex
        if _free(block, x + dx, y, width):
            yield x + dx, y, FALL


def _start(block, height: int, width: int) -> tuple[int, int, int] | None:
    """Mario starts on the lowest floor of the first column (of the first 8) that has one."""
    for x in range(min(8, width)):
        for y in range(height - 2, -1, -1):
            if not block[y][x] and block[y + 1][x]:
                return x, y, GROUND
    return None


def _diagnose(level: np.ndarray, furthest: int, solid: frozenset[str]) -> str:
    """Say what stops Mario just right of the furthest column he reached."""
    mask = _solid_mask(level, solid)
    x = furthest + 1
    if x >= level.shape[1]:
        return f"stuck at column {furthest + 1}"
    gap = 0
    while x + gap < level.shape[1] and not mask[:, x + gap].any():
        gap += 1
    if gap:
        return f"stuck at column {furthest + 1}: a {gap}-column gap with no floor follows"
    top = int(np.argmax(mask[:, x]))
    return f"stuck at column {furthest + 1}: the way on is too high or blocked (solid from row {top + 1} of column {x + 1})"
