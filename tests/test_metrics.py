"""Level metrics on small sets whose answers are known."""

from __future__ import annotations

import math

import pytest

from genmedia.levels.metrics import diversity, leniency, linearity, novelty, pattern_counts, tile_pattern_kl
from genmedia.levels.tiles import level_from_lines

from conftest import flat_map, with_column


def _lv(lines):
    return level_from_lines(lines)


def test_pattern_counts_cover_every_window():
    counts = pattern_counts([_lv(["-X-", "XXX"])], 2)
    assert sum(counts.values()) == 2
    assert counts[b"-XXX"] == 1 and counts[b"X-XX"] == 1


def test_kl_is_zero_for_identical_sets_and_grows_with_difference():
    a = [_lv(flat_map(40))]
    b = [_lv(with_column(flat_map(40), 20, "XX"))]
    assert tile_pattern_kl(a, a, 3) == pytest.approx(0.0, abs=1e-9)
    assert tile_pattern_kl(b, a, 3) > 0.01
    assert tile_pattern_kl(b, a, 2) < tile_pattern_kl(b, a, 3)  # bigger windows see more difference


def test_kl_of_disjoint_patterns_is_large():
    a = [_lv(["XX", "XX"])]
    b = [_lv(["--", "--"])]
    assert tile_pattern_kl(b, a, 2) == pytest.approx(math.log(1 / 1e-6), rel=1e-3)


def test_novelty_and_diversity():
    plain = _lv(flat_map(40))
    bumpy = _lv(with_column(flat_map(40), 20, "XXX"))
    assert novelty([plain], [plain]) == 0.0
    assert novelty([bumpy], [plain]) == pytest.approx(16 / 25)  # windows covering column 20
    assert diversity([plain, plain]) == 0.0
    assert 0.0 < diversity([plain, bumpy]) < 0.05


def test_linearity_and_leniency():
    flat = _lv(flat_map(40))
    assert linearity(flat) == pytest.approx(1.0)
    rough = flat_map(40)
    for c in range(0, 40, 2):
        rough = with_column(rough, c, "XXXXXX")
    assert linearity(_lv(rough)) < 0.85
    enemies = _lv(with_column(flat_map(40), 5, "E"))
    assert leniency(enemies) < leniency(flat) == 0.0
    assert leniency(_lv(flat_map(40, gaps=(range(10, 13),)))) == pytest.approx(-0.5 * 10 / 40)
