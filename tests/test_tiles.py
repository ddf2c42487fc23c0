"""Parsing and writing VGLC maps: the round trip and every rejection path."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genmedia.errors import InputError
from genmedia.levels.tiles import TileSet, level_to_text, load_legend, parse_level, read_corpus, read_level

from conftest import SMB_LEGEND, flat_map


@pytest.fixture
def smb(tmp_path) -> TileSet:
    path = tmp_path / "smb.json"
    path.write_text(json.dumps(SMB_LEGEND))
    return load_legend(path)


def test_round_trip_is_byte_exact(tmp_path, smb):
    text = "\n".join(flat_map(30, gaps=(range(5, 8),))[:-2] + ["--<>--" * 5, "XX[]XX" * 5]) + "\n"
    path = tmp_path / "l.txt"
    path.write_bytes(text.encode())
    level = read_level(path, tiles=smb)
    assert level.shape == (14, 30)
    assert level_to_text(level) == text


def test_crlf_and_trailing_blank_lines_are_accepted():
    level = parse_level("--X\r\nXXX\r\n\r\n")
    assert level_to_text(level) == "--X\nXXX\n"


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty level map"),
        (b"\n\n", "empty level map"),
        (b"----\n---\n", "line 2 has 3 columns, expected 4 like line 1"),
        (b"--\x00-\n", "binary file"),
        ("--é-\n".encode(), "not ASCII"),
        (b"-- -\n", "line 1, column 3: ' ' is not a tile character"),
        (b"--\t-\n", "line 1, column 3"),
        (b"--Z-\nXXXX\n", "line 1, column 3: unknown tile 'Z'"),
    ],
)
def test_rejections_name_the_file_and_problem(tmp_path, smb, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_level(path, tiles=smb)
    assert info.value.path == path
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file_and_folder_are_rejected(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_level(tmp_path / "nope.txt")
    with pytest.raises(InputError, match="is a folder"):
        read_level(tmp_path)


def test_legend_rejections(tmp_path):
    bad = tmp_path / "legend.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not a VGLC tile legend"):
        load_legend(bad)
    bad.write_text(json.dumps({"tiles": {"XY": ["solid"]}}))
    with pytest.raises(InputError, match="single printable ASCII"):
        load_legend(bad)
    for text, why in [("[" * 5000 + "]" * 5000, "JSON nested too deeply"),  # not a RecursionError traceback
                      ("null", "expected"), ("{}", "expected"), ('{"tiles": {"X": "solid"}}', "expected"),
                      ('{"tiles": {"X": [null]}}', "expected")]:
        bad.write_text(text)
        with pytest.raises(InputError, match=f"^{bad}: not a VGLC tile legend \\({why}"):
            load_legend(bad)
    bad.write_bytes(b"{" + b" " * (2 << 20) + b"}")  # no legend is megabytes
    with pytest.raises(InputError, match="over the limit of 1,048,576 bytes for a tile legend"):
        load_legend(bad)


def test_tileset_properties(smb):
    assert smb.empty == "-"
    assert smb.solid() == frozenset("XS?Q<>[]Bb")  # enemies are not solid footing
    level = parse_level("-X?\nEo<")
    assert np.array_equal(smb.from_indices(smb.to_indices(level)), level)


def test_read_corpus_finds_the_legend_in_the_parent(mini_corpus):
    tiles, levels = read_corpus(mini_corpus)
    assert [p.name for p, _ in levels] == ["lvl-a.txt", "lvl-b.txt", "lvl-c.txt"]
    assert "X" in tiles.chars and tiles.empty == "-"


def test_read_corpus_without_legend_is_an_error(tmp_path):
    (tmp_path / "a.txt").write_text("--\nXX\n")
    with pytest.raises(InputError, match="no VGLC tile legend"):
        read_corpus(tmp_path)
