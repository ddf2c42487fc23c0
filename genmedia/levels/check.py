"""Playability: can small Mario, with the game engine's physics, get from the start to the right edge?

The check plays the level: an A* search over input sequences on the frame-by-frame
physics of `genmedia.levels.physics` (the Mario AI framework's rules for small Mario:
acceleration, top walking and running speeds, the held-jump impulse, gravity, terminal
fall speed, his 8 x 12 pixel hit box and its collisions with solid tiles, head bumps
included). A level passes only when the search finds inputs that reach the exit, so
every pass comes with a route the engine plays to the end (`PlayResult.actions`).

- The fast check (`sample`, `interpolate`, `level check`) searches with whole moves:
  run or walk for 4 frames, or jump holding jump for 2 to 8 frames with a fixed
  left/right input until landing; it stops after `search.FAST.max_nodes` moves. A
  level it fails may still be playable.
- The thorough check (`level check --thorough`) runs the fast search and, where it
  fails, searches frame pairs with every useful combination of left, right, jump and
  speed, up to `search.THOROUGH.max_nodes` moves each: first on from the furthest floor
  the fast search reached, then from the start.

What it assumes, as the framework plays VGLC maps: Mario starts small in column 0 on
its lowest floor and wins when he enters the last column. Enemies (`E`) are neither
obstacles nor footholds: every enemy is assumed stompable or avoidable, since they
walk and fall and their map tile says little about where they are when Mario arrives;
so a route that needs an enemy to bounce on is not found, and an enemy that cannot be
jumped (one in a one-tile-high tunnel) is not noticed. Above the map is open sky, as in
the framework (blocks do not extend upwards), so Mario may jump over the top of the
screen; columns left of the map repeat column 0. Falling below the map is death.
There is no time limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from genmedia.levels import physics, search

SMB_SOLID = frozenset("XS?Q<>[]Bb")


@dataclass(frozen=True)
class PlayResult:
    """Outcome of the check: whether the exit is reachable, and how far Mario got."""

    playable: bool
    furthest: int  # the right-most column Mario stood on (the last column when playable)
    width: int
    reason: str  # empty when playable
    actions: tuple[int, ...] = field(default=(), repr=False)  # per frame: a winning route, or to the furthest floor
    searched: int = 0  # moves the search simulated
    gave_up: bool = False  # the search hit its move budget (the thorough check searches further)

    def describe(self) -> str:
        return "playable" if self.playable else f"not playable: {self.reason}"


def solid_mask(level: np.ndarray, solid: frozenset[str] = SMB_SOLID) -> np.ndarray:
    """(rows, cols) bool: the tiles Mario collides with."""
    lut = np.zeros(256, dtype=bool)
    lut[[ord(c) for c in solid]] = True
    mask: np.ndarray = lut[level]
    return mask


FAST_MOVES_PER_COLUMN = 10  # the fast search's budget grows with the columns still ahead


def check_playable(level: np.ndarray, *, solid: frozenset[str] = SMB_SOLID, thorough: bool = False,
                   prefix: tuple[int, ...] = (), keep_left_of: int = 0) -> PlayResult:
    """Play the level (rows, cols of ASCII codes) with the physics search; see the module docstring.

    `prefix` (a route from an earlier check of a level that matches this one left of column
    `keep_left_of`) is replayed on this level while Mario stays clear of that column, and the
    search goes on from the last standing state it reaches: re-checking a level repaired on
    the right costs only the part that changed while it still fails. A pass found that way is
    confirmed by a fast search from the start (so the verdict is the one the map alone gets),
    which costs a whole fast search. A failing result's `actions` lead to the furthest floor
    reached; with `thorough`, that of whichever frame-level search (on from the fast search's
    furthest floor, or from the start) got further, each with up to `search.THOROUGH.max_nodes` moves.
    """
    mask = solid_mask(level, solid)
    width = level.shape[1]
    if not _has_start(mask):
        return PlayResult(False, -1, width, "no floor to start on in column 1")
    world = physics.Level(mask)
    head, start = _resume(world, prefix, keep_left_of)
    found = _fast(world, start, width)
    if head and found.won:
        # A pass that began from a replayed route is a route, but confirm it from the start, so that the
        # verdict is the one `level check` gives for the file alone (a fresh bounded search can miss it).
        fresh = _fast(world, world.start(), width)
        head, found = ([], fresh) if not fresh.won else (head, found)
    if thorough and not found.won:
        # The frame-level search goes on from the furthest floor the fast one reached, then from the start:
        # the thorough check passes everything the fast one passes and more.
        head, start = _resume(world, tuple(head) + tuple(found.actions), width + 1)
        found = search.search(world, search.THOROUGH, start)
        if not found.won and head:
            fresh = search.search(world, search.THOROUGH)
            if fresh.won or fresh.furthest_x > found.furthest_x:  # else the onward search's report stands
                head, found = [], fresh
    route = tuple(head) + tuple(found.actions)
    if found.won:
        return PlayResult(True, width - 1, width, "", route, found.expanded)
    furthest = min(width - 1, max(0, int((found.furthest_x - physics.HALF_WIDTH) // physics.TILE)))  # his left edge
    why = _diagnose(mask, furthest)
    if found.exhausted:
        why += f" (gave up after {found.expanded} moves)"
    return PlayResult(False, furthest, width, why, route, found.expanded, found.exhausted)


def _fast(world: physics.Level, start: physics.Mario, width: int) -> search.SearchResult:
    """The fast search from `start`, its budget growing with the columns still ahead."""
    ahead = width - int(start.x // physics.TILE)
    return search.search(world, search.FAST, start, max(search.FAST.max_nodes, FAST_MOVES_PER_COLUMN * ahead))


def _resume(world: physics.Level, prefix: tuple[int, ...], keep_left_of: int) -> tuple[list[int], physics.Mario]:
    """The longest start of `prefix` that keeps Mario (and the tiles he touches) left of column
    `keep_left_of - 1`, ending on the ground: (its actions, the state after them)."""
    mario, best, limit = world.start(), (0, world.start()), (keep_left_of - 1) * physics.TILE - physics.HALF_WIDTH
    for i, action in enumerate(prefix):
        mario = physics.step(world, mario, action)
        if mario.x >= limit or physics.dead(world, mario) or physics.won(world, mario):
            break
        if mario.on_ground:
            best = (i + 1, mario)
    return list(prefix[:best[0]]), best[1]


def _has_start(mask: np.ndarray) -> bool:
    """The framework starts Mario on column 0's lowest floor: a solid tile with open space above it."""
    column = mask[:, 0]
    return bool((column[1:] & ~column[:-1]).any())


def _diagnose(mask: np.ndarray, furthest: int) -> str:
    """Say what stops Mario just right of the furthest column he reached (1-based columns)."""
    x = furthest + 1
    if x >= mask.shape[1]:
        return f"stuck at column {furthest + 1}"
    gap = 0
    while x + gap < mask.shape[1] and not mask[:, x + gap].any():
        gap += 1
    if gap:
        return f"stuck at column {furthest + 1}: a {gap}-column gap with no floor follows"
    top = int(np.argmax(mask[:, x]))
    return (f"stuck at column {furthest + 1}: the way on is too high, too far or blocked "
            f"(solid from row {top + 1} of column {x + 1})")
