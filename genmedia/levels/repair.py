"""Multi-tile structures: find broken pipes and cannons, and repair them.

A whole pipe is a head `<>` over zero or more body rows `[]`, standing on a solid tile
or running off the bottom of the map; a whole cannon is `B` over zero or more `b`,
standing the same way. Other games' tiles pass through untouched.
"""

from __future__ import annotations

import numpy as np

from genmedia.levels.check import SMB_SOLID

PIPE = {"head": (ord("<"), ord(">")), "body": (ord("["), ord("]"))}
CANNON_TOP, CANNON_BASE = ord("B"), ord("b")
SUPPORT = frozenset(ord(c) for c in SMB_SOLID)  # what a pipe or cannon may stand on
_PIPE_CODES = frozenset(PIPE["head"] + PIPE["body"])


def _supported(level: np.ndarray, row: int, cols: list[int]) -> bool:
    """A structure ending at `row` stands on something: the map's bottom or a solid tile."""
    if row + 1 >= level.shape[0]:
        return True
    return any(int(level[row + 1, c]) in SUPPORT for c in cols)


def find_structure_errors(level: np.ndarray) -> list[str]:
    """Describe each broken pipe or cannon tile (1-based rows and columns); empty if all whole."""
    errors = []
    rows, cols = level.shape
    for r in range(rows):
        for c in range(cols):
            code = int(level[r, c])
            where = f"row {r + 1}, column {c + 1}"
            if code in (PIPE["head"][0], PIPE["body"][0]):
                pair = PIPE["head"] if code == PIPE["head"][0] else PIPE["body"]
                if c + 1 >= cols or int(level[r, c + 1]) != pair[1]:
                    errors.append(f"{where}: pipe half {chr(code)!r} without its right half")
                elif code == PIPE["body"][0] and (r == 0 or int(level[r - 1, c]) not in (PIPE["head"][0], code)):
                    errors.append(f"{where}: pipe body with no pipe above it")
                elif not _supported(level, r, [c, c + 1]) and int(level[r + 1, c]) != PIPE["body"][0]:
                    errors.append(f"{where}: pipe floating in the air")
            elif code in (PIPE["head"][1], PIPE["body"][1]):
                left = PIPE["head"][0] if code == PIPE["head"][1] else PIPE["body"][0]
                if c == 0 or int(level[r, c - 1]) != left:
                    errors.append(f"{where}: pipe half {chr(code)!r} without its left half")
            elif code == CANNON_BASE and (r == 0 or int(level[r - 1, c]) not in (CANNON_TOP, CANNON_BASE)):
                errors.append(f"{where}: cannon base with no cannon above it")
            if code in (CANNON_TOP, CANNON_BASE) and not _supported(level, r, [c]):
                errors.append(f"{where}: cannon floating in the air")
    return errors


def _pairs(level: np.ndarray, left: int, right: int) -> list[tuple[int, int]]:
    """(row, col) of every `left` tile immediately followed by `right`."""
    hits = (level[:, :-1] == left) & (level[:, 1:] == right)
    return [(int(r), int(c)) for r, c in np.argwhere(hits)]


def repair_structures(level: np.ndarray) -> np.ndarray:
    """Return a copy with every pipe and cannon whole (see the module docstring).

    Lone pipe halves are erased; a body with nothing above becomes a head; pipes and
    cannons are extended down over non-solid tiles until they stand on something.
    """
    out: np.ndarray = level.copy()
    empty = ord("-")
    heads = _pairs(out, *PIPE["head"])
    bodies = _pairs(out, *PIPE["body"])
    paired = np.zeros(out.shape, dtype=bool)
    for r, c in heads + bodies:
        paired[r, c:c + 2] = True
    stray = np.isin(out, list(_PIPE_CODES)) & ~paired
    out[stray] = empty
    for r, c in sorted(bodies):
        if r == 0 or (int(out[r - 1, c]), int(out[r - 1, c + 1])) not in (PIPE["head"], PIPE["body"]):
            out[r, c:c + 2] = PIPE["head"]
    for r, c in sorted(heads + bodies):
        if (int(out[r, c]), int(out[r, c + 1])) in (PIPE["head"], PIPE["body"]):
            _extend_down(out, r, [c, c + 1], PIPE["body"])
    for r, c in np.argwhere(out == CANNON_BASE):
        if r == 0 or int(out[r - 1, c]) not in (CANNON_TOP, CANNON_BASE):
            out[r, c] = CANNON_TOP
    for r, c in np.argwhere((out == CANNON_TOP) | (out == CANNON_BASE)):
        _extend_down(out, int(r), [int(c)], (CANNON_BASE,))
    return out


def _extend_down(level: np.ndarray, row: int, cols: list[int], fill: tuple[int, ...]) -> None:
    """Fill below (row, cols) with `fill` until a solid tile or the bottom of the map."""
    r = row
    while not _supported(level, r, cols):
        r += 1
        level[r, cols] = fill


ENEMY, GROUND = ord("E"), ord("X")
START_COLUMNS = 3  # columns at the start that must give Mario a floor and hold no enemy
_HEADS = frozenset(PIPE["head"])


def pipe_stacks(level: np.ndarray) -> list[tuple[int, int]]:
    """(row, col) of every pipe tile standing directly on a pipe head (`<>` on `<>`), which the game never has."""
    pipe = np.isin(level, list(_PIPE_CODES))
    head = np.isin(level, list(_HEADS))
    return [(int(r), int(c)) for r, c in np.argwhere(pipe[:-1] & head[1:])]


def has_start_floor(level: np.ndarray, columns: int = START_COLUMNS) -> bool:
    """Each of the first `columns` columns has a solid tile with open space above it (a floor to stand on)."""
    solid = np.isin(level[:, :columns], list(SUPPORT))
    return bool((solid[1:] & ~solid[:-1]).any(axis=0).all())


PIPE_HEIGHT = 4  # tiles: 93% of the corpus's pipes are at most this tall, the highest wall Mario climbs


def cap_pipes(level: np.ndarray, most: int = PIPE_HEIGHT) -> bool:
    """Shorten, in place, every whole pipe taller than `most` tiles (head and body, down to what it
    stands on) by moving its head down: it keeps its footing and becomes `most` tiles tall. Returns
    whether any pipe was."""
    changed = False
    for r, c in _pairs(level, *PIPE["head"]):
        bottom = r
        while (bottom + 1 < level.shape[0]
               and (int(level[bottom + 1, c]), int(level[bottom + 1, c + 1])) == PIPE["body"]):
            bottom += 1
        if bottom - r + 1 > most:
            level[r:bottom - most + 1, c:c + 2] = ord("-")
            level[bottom - most + 1, c:c + 2] = PIPE["head"]
            changed = True
    return changed


def repair_level(level: np.ndarray, *, pipe_height: int | None = None) -> np.ndarray:
    """`repair_structures`, then the game's shapes: no pipe on a pipe, a floor at the start.

    Every pipe tile stacked above another pipe's head is erased (the lower pipe stays
    whole). A start column without a floor is cleared to sky over one ground tile, and
    enemies in the start columns are removed, so Mario does not begin inside one.
    Enemies with nothing solid anywhere below them (over a gap) are erased. With
    `pipe_height`, pipes taller than that are shortened (`cap_pipes`) and the whole pass runs
    again (a pipe left floating is made whole again), at most `CAP_PASSES` times.
    """
    out = _repair_once(level)
    if pipe_height is None:
        return out
    for _ in range(CAP_PASSES):
        if not cap_pipes(out, pipe_height):
            break
        out = _repair_once(out)
    return out


CAP_PASSES = 3


def _repair_once(level: np.ndarray) -> np.ndarray:
    out = repair_structures(level)
    for r, c in pipe_stacks(out):
        if int(out[r, c]) not in _PIPE_CODES:
            continue  # already erased with its pipe
        lo = c if int(out[r, c]) in (PIPE["head"][0], PIPE["body"][0]) else c - 1
        row = r
        while row >= 0 and int(out[row, lo]) in _PIPE_CODES:  # the whole stack above the lower head
            out[row, lo:lo + 2] = ord("-")
            row -= 1
    _fix_start(out)
    out = repair_structures(out)
    _drop_hanging_enemies(out)
    return out


def _fix_start(level: np.ndarray) -> None:
    for c in range(min(START_COLUMNS, level.shape[1])):
        level[:, c][level[:, c] == ENEMY] = ord("-")
        if not has_start_floor(level[:, c:c + 1], 1):
            level[:-1, c] = ord("-")
            level[-1, c] = GROUND


def _drop_hanging_enemies(level: np.ndarray) -> None:
    solid = np.isin(level, list(SUPPORT))
    below = np.flip(np.logical_or.accumulate(np.flip(solid, 0), 0), 0)  # anything solid at or below each tile
    hanging = (level == ENEMY)
    hanging[:-1] &= ~below[1:]
    hanging[-1] = level[-1] == ENEMY
    level[hanging] = ord("-")
