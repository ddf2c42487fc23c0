"""Pipes and cannons: detecting broken ones and repairing them."""

from __future__ import annotations

import numpy as np

from genmedia.levels.repair import find_structure_errors, repair_structures
from genmedia.levels.tiles import level_from_lines, level_to_text


def test_whole_structures_have_no_errors_and_are_left_alone():
    level = level_from_lines(["------B-", "--<>--b-", "--[]--b-", "XXXXXXXX"])
    assert find_structure_errors(level) == []
    assert np.array_equal(repair_structures(level), level)


def test_each_kind_of_break_is_reported():
    level = level_from_lines(["--<>--B-", "-[]-<---", "--------", "-X-[]-b-", "XXXX-XXX"])
    errors = "\n".join(find_structure_errors(level))
    assert "row 1, column 7: cannon floating" in errors
    assert "row 2, column 2: pipe body with no pipe above it" in errors
    assert "row 2, column 5: pipe half '<' without its right half" in errors
    assert "row 4, column 7: cannon base with no cannon above it" in errors


def test_repair_makes_every_structure_whole():
    level = level_from_lines(["--<>--B-", "-[]-<---", "--------", "-X-[]-b-", "XXXX-XXX"])
    fixed = repair_structures(level)
    assert find_structure_errors(fixed) == []
    assert level_to_text(fixed) == "--<>--B-\n-<>---b-\n-[]---b-\n-X-<>-B-\nXXXX-XXX\n"


def test_pipe_over_a_gap_runs_to_the_bottom():
    fixed = repair_structures(level_from_lines(["-<>-", "----", "----", "X--X"]))
    assert level_to_text(fixed) == "-<>-\n-[]-\n-[]-\nX[]X\n"


def test_lone_right_halves_are_erased():
    fixed = repair_structures(level_from_lines(["->-]", "XXXX"]))
    assert level_to_text(fixed) == "----\nXXXX\n"
