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


def test_counts_per_100_columns():
    from genmedia.levels.metrics import per_100_columns, structure_counts

    lines = with_column(with_column(flat_map(50, gaps=(range(10, 13), range(30, 32))), 5, "E"), 20, "[<")
    lines = with_column(lines, 21, "]>")
    lines[9] = lines[9][:40] + "S?Qo" + lines[9][44:]
    level = _lv(lines)
    assert structure_counts(level) == {"enemies": 1, "gaps": 2, "pipes": 1, "blocks": 3, "coins": 1}
    assert per_100_columns([level, level]) == {"enemies": 2.0, "gaps": 4.0, "pipes": 2.0, "blocks": 6.0,
                                               "coins": 2.0}


def test_reference_statistics_survive_json_and_give_the_same_figures():
    import json

    from genmedia.levels.metrics import Reference, evaluate

    refs = [_lv(flat_map(40)), _lv(with_column(flat_map(48, gaps=(range(20, 23),)), 10, "XX"))]
    gen = [_lv(with_column(flat_map(40), 20, "XXX")), _lv(flat_map(36, gaps=(range(5, 8),)))]
    shipped = Reference.from_json(json.loads(json.dumps(Reference.from_levels(refs, source="t").to_json())))
    direct, via_stats = evaluate(gen, refs).to_dict(), evaluate(gen, shipped).to_dict()
    assert direct == via_stats
    assert direct["kl_3x3"] > 0 and 0 < direct["novelty"] < 1
    expected = [v for lv in refs for v in (linearity(lv), leniency(lv))]
    assert [v for point in shipped.points for v in point] == pytest.approx(expected, abs=1e-6)
