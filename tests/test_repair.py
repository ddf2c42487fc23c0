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


def test_a_pipe_on_a_pipe_is_taken_off_and_the_lower_one_kept():
    from genmedia.levels.repair import pipe_stacks, repair_level

    stacked = level_from_lines(["------", "-<>---", "-[]---", "-<>---", "-[]---", "XXXXXX"])
    assert pipe_stacks(stacked) == [(2, 1), (2, 2)]
    fixed = repair_level(stacked)
    assert pipe_stacks(fixed) == [] and find_structure_errors(fixed) == []
    assert level_to_text(fixed) == "------\n------\n------\n-<>---\n-[]---\nXXXXXX\n"


def test_offset_stacks_are_found_too():
    from genmedia.levels.repair import pipe_stacks, repair_level

    offset = level_from_lines(["--<>--", "--[]--", "-<>---", "-[]---", "XXXXXX"])
    assert pipe_stacks(offset) == [(1, 2)]
    assert pipe_stacks(repair_level(offset)) == []


def test_the_start_gets_a_floor_and_no_enemy():
    from genmedia.levels.repair import has_start_floor, repair_level

    level = level_from_lines(["X-------", "--------", "E-E-----", "---XXXXX"])
    assert not has_start_floor(level)
    fixed = repair_level(level)
    assert has_start_floor(fixed)
    assert level_to_text(fixed) == "--------\n--------\n--------\nXXXXXXXX\n"


def test_enemies_over_a_gap_are_erased_and_others_kept():
    from genmedia.levels.repair import repair_level

    level = level_from_lines(["-------E--E-", "---------SS-", "-----E----E-", "XXXXXX--XXXX"])
    assert level_to_text(repair_level(level)) == "----------E-\n---------SS-\n-----E----E-\nXXXXXX--XXXX\n"


def test_pipes_taller_than_the_cap_are_shortened_on_their_footing():
    from genmedia.levels.repair import cap_pipes, repair_level

    tall = level_from_lines(["----<>----", "----[]----", "----[]-<>-", "----[]-[]-", "----[]-[]-", "----[]-[]-",
                             "XXXXXXXXXX"])
    assert level_to_text(repair_level(tall)) == level_to_text(tall)  # no cap unless asked
    capped = repair_level(tall, pipe_height=4)
    assert level_to_text(capped) == ("----------\n----------\n----<>-<>-\n----[]-[]-\n----[]-[]-\n----[]-[]-\n"
                                     "XXXXXXXXXX\n")
    assert find_structure_errors(capped) == []
    short = tall.copy()
    cap_pipes(short, most=2)
    assert level_to_text(short) == "----------\n" * 4 + "----<>-<>-\n----[]-[]-\nXXXXXXXXXX\n"
