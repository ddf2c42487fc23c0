"""A* over small Mario's input sequences, on the frame-by-frame physics of `genmedia.levels.physics`.

As the Mario AI framework's A* agent does (Baumgarten 2009), a node is the engine's
full state for Mario, each edge one action held for `repeat` frames, the cost the frames
spent, and the heuristic the frames still needed at top running speed. States that
round to the same (x, y, speeds, jump phase) cell are expanded once. Whatever route it
returns is an input sequence that `physics.replay` plays to the end of the level, so a
level it passes is one an agent with these physics can finish.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from genmedia.levels import physics
from genmedia.levels.physics import JUMP, LEFT, RIGHT, SPEED, Mario

_R, _L = RIGHT | SPEED, LEFT | SPEED


HOLD, HOP = 0, 1  # macro kinds: hold an action for n frames; jump holding it for n frames, then hold it to landing
AIR_FRAMES = 64  # the longest a hop's fall is followed before the node is kept in the air


@dataclass(frozen=True)
class SearchConfig:
    """How hard to look: the moves tried from each node (in order), and the node budget.

    A move is (HOLD, action, n): the action for n frames; or (HOP, action, n): a jump
    holding jump and the action for n frames, then the action alone until Mario lands.
    """

    moves: tuple[tuple[int, int, int], ...]
    max_nodes: int  # moves simulated before giving up
    weight: float  # f = frames + weight * frames-to-go (1: optimal routes; more: faster search)
    cell: float  # pixels: states closer than this in x and y count as seen
    patience: int | None = None  # give up after this many moves without standing further right


FAST = SearchConfig(
    moves=((HOLD, _R, 4), (HOP, _R, 8), (HOP, _R, 4), (HOP, RIGHT, 8), (HOP, 0, 8), (HOP, _R, 2), (HOLD, RIGHT, 4),
           (HOP, _L, 8), (HOLD, 0, 4), (HOLD, _L, 4), (HOP, RIGHT, 3), (HOP, 0, 4)),
    max_nodes=1_500, weight=4.0, cell=4.0, patience=1_000)
THOROUGH = SearchConfig(
    moves=tuple((HOLD, a, 2) for a in (_R, _R | JUMP, RIGHT, RIGHT | JUMP, JUMP, 0, LEFT, LEFT | JUMP, _L, _L | JUMP)),
    max_nodes=400_000, weight=1.5, cell=2.0)


@dataclass(frozen=True)
class SearchResult:
    """The outcome of one search: a winning input sequence (one action per frame) or how far it got."""

    won: bool
    actions: list[int]  # per frame, from the start: to the exit if won, else to the furthest standing state
    furthest_x: float  # pixels: the right-most x at which any explored state stood on the ground
    expanded: int
    exhausted: bool  # stopped at the node budget (rather than running out of states)


_TOP = physics.RUN_ACCEL * physics.INERTIA / (1 - physics.INERTIA)  # 9.7 px/frame: xa between frames at top speed


def frames_to_go(m: Mario, goal: float) -> float:
    """Frames to run from x to `goal`, accelerating from xa at the running rate (exact for long runs).

    Running, xa approaches _TOP geometrically, so n frames cover n * MAX_RUN + (xa - _TOP) / (1 - INERTIA)
    pixels plus a term that vanishes as n grows.
    """
    return max(0.0, goal - m.x + (_TOP - m.xa) / (1 - physics.INERTIA)) / physics.MAX_RUN


def _key(m: Mario, cell: float) -> tuple[int, int, int, int, int, bool, bool]:
    return (int(m.x / cell), int(m.y / cell), round(m.xa), round(m.ya), m.jump_time, m.on_ground, m.may_jump)


def _play(level: physics.Level, m: Mario, move: tuple[int, int, int]) -> tuple[Mario, list[int]] | None:
    """Simulate one move from m: the state after it and the per-frame actions (None if it cannot start)."""
    kind, action, n = move
    frames: list[int] = []
    if kind == HOP:
        if not m.on_ground:
            return None
        if not m.may_jump:  # jump must be released for a frame on the ground first
            m = physics.step(level, m, action)
            frames.append(action)
            if not m.on_ground:
                return m, frames
    else:
        for _ in range(n):
            m = physics.step(level, m, action)
            frames.append(action)
            if m.x > level.exit_x or m.y > level.death_y:
                break
        return m, frames
    for _ in range(n):
        m = physics.step(level, m, action | JUMP)
        frames.append(action | JUMP)
        if m.x > level.exit_x or m.y > level.death_y or m.on_ground:
            return m, frames
    for _ in range(AIR_FRAMES):
        m = physics.step(level, m, action)
        frames.append(action)
        if m.x > level.exit_x or m.y > level.death_y or m.on_ground:
            break
    return m, frames


def search(level: physics.Level, config: SearchConfig = FAST, start: Mario | None = None,
           max_nodes: int | None = None) -> SearchResult:
    """Find inputs that take Mario from `start` (the level's start) past the last column's left edge.

    Successors are generated lazily (partial-expansion A*): popping a node simulates only its
    next untried move, in `config.moves` order, and puts the node back ranked one frame
    worse, so on easy stretches the search runs ahead with the first move alone.
    """
    start = level.start() if start is None else start
    goal, weight, moves = level.exit_x + 1, config.weight, config.moves
    nodes: list[tuple[int, list[int]]] = [(-1, [])]  # (parent index, frames of the move into it) per node
    heap = [(weight * frames_to_go(start, goal), 0, 0, 0, start)]  # (f, g, node, next move, state)
    seen = {_key(start, config.cell)}
    furthest, best, expanded, since = start.x, 0, 0, 0
    budget = config.max_nodes if max_nodes is None else max_nodes
    patience = config.patience or budget
    while heap and expanded < budget and expanded - since < patience:
        f, g, index, which, mario = heapq.heappop(heap)
        if which + 1 < len(moves):
            heapq.heappush(heap, (f + 1.0, g, index, which + 1, mario))
        played = _play(level, mario, moves[which])
        if played is None:
            continue
        expanded += 1
        m, frames = played
        if m.y > level.death_y:
            continue
        if m.x > level.exit_x:
            nodes.append((index, frames))
            return SearchResult(True, _plan(nodes, len(nodes) - 1), m.x, expanded, False)
        key = _key(m, config.cell)
        if key in seen:
            continue
        seen.add(key)
        nodes.append((index, frames))
        if m.on_ground and m.x > furthest:
            furthest, best, since = m.x, len(nodes) - 1, expanded
        cost = g + len(frames)
        heapq.heappush(heap, (cost + weight * frames_to_go(m, goal), cost, len(nodes) - 1, 0, m))
    return SearchResult(False, _plan(nodes, best), furthest, expanded, bool(heap))


def _plan(nodes: list[tuple[int, list[int]]], index: int) -> list[int]:
    parts = []
    while index > 0:
        index, frames = nodes[index]
        parts.append(frames)
    return [a for part in reversed(parts) for a in part]
