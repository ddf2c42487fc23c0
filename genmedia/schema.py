"""The schema of model metadata: what each field genmedia reads must be, checked before any use.

`check_metadata` raises one `ModelError` naming the file and the field for the first field that
does not fit. The rules cover every field the model classes, priors and `level eval` read
(`genmedia.levels.model`, `genmedia.levels.prior`, `genmedia.levels.metrics.Reference`,
`genmedia.melody.model`, `genmedia.image.denoise`), so that metadata which passes can be used
without a traceback: types and ranges from the rule tables, then what ties fields together
(a level's padded height and its rows, a prior's latent size, tile biases and the vocabulary).
Fields genmedia does not read are not checked. The graph's own tensor shapes are compared with
the metadata when a model is built (`genmedia.runtime.OnnxModel.expect`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from genmedia.errors import ModelError

METADATA_VERSION = 1
REFERENCE_WINDOW = 16  # `genmedia.levels.metrics.WINDOW`: the window of the shipped reference statistics
MAX_DIMENSION = 65_536  # the largest latent size, step count, ... a model may declare
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MISSING = object()

Kind = tuple[Callable[[Any], bool], str]  # a field's test, and how a message says what it must be


def is_plain_relative(text: str) -> bool:
    """Whether `text` is a relative path of plain names ('a/b.onnx'): no root, drive, '.' or '..',
    and no backslash (a separator on Windows only), so it means the same everywhere."""
    parts = text.split("/")
    return (bool(text) and "\\" not in text and "\0" not in text and ":" not in parts[0]
            and all(p not in ("", ".", "..") for p in parts))


def _is_int(value: Any, least: int, most: int | None = None) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool) and value >= least
            and (most is None or value <= most))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _matrix(value: Any) -> bool:
    return (isinstance(value, list) and bool(value) and all(isinstance(row, list) and len(row) == len(value[0]) > 0
                                                            and all(map(_is_number, row)) for row in value))


def _tile(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 1 and value.isascii() and value.isprintable() and value != " "


def _whole(least: int, most: int | None = None) -> Kind:
    said = f"a whole number >= {least}" if most is None else f"a whole number from {least} to {most:,}"
    return (lambda v: _is_int(v, least, most)), said


def _number(least: float = -math.inf, most: float = math.inf) -> Kind:
    said = ("a finite number" if least == -math.inf else f"a finite number >= {least:g}" if most == math.inf
            else f"a finite number from {least:g} to {most:g}")
    return (lambda v: _is_number(v) and least <= v <= most), said


TEXT: Kind = (lambda v: isinstance(v, str) and v != "", "a non-empty string")
STRING: Kind = (lambda v: isinstance(v, str), "a string")
OBJECT: Kind = (lambda v: isinstance(v, dict), "an object")
DIMENSION = _whole(1, MAX_DIMENSION)
COUNT = _whole(0)
NUMBER = _number()
STRINGS: Kind = (_strings, "a list of strings")
STRING_LISTS: Kind = (lambda v: isinstance(v, dict) and all(map(_strings, v.values())), "an object of string lists")
MATRICES: Kind = (lambda v: isinstance(v, list) and bool(v) and all(map(_matrix, v)), "a list of number matrices")
NUMBER_MAP: Kind = (lambda v: isinstance(v, dict) and all(map(_is_number, v.values())), "an object of finite numbers")
PATH: Kind = (lambda v: isinstance(v, str) and is_plain_relative(v),
              "a relative path inside the metadata's folder (no root, drive, '.', '..' or backslash)")
SHA256: Kind = (lambda v: isinstance(v, str) and _SHA256.fullmatch(v) is not None, "64 lowercase hex digits")
TILES: Kind = (lambda v: isinstance(v, list) and bool(v) and all(map(_tile, v)) and len(set(v)) == len(v),
               "a non-empty list of distinct tiles (single printable ASCII characters, no space)")
DECODER_KIND: Kind = (lambda v: v in ("flat", "hierarchical"), "'flat' or 'hierarchical'")
SIGMA_RANGE: Kind = (lambda v: isinstance(v, list) and len(v) == 2 and all(map(_is_number, v)) and 0 <= v[0] <= v[1],
                     "[lowest, highest] noise levels (finite, 0 <= lowest <= highest)")
INT_MATRICES: Kind = (lambda v: isinstance(v, list) and bool(v) and all(
    isinstance(m, list) and bool(m) and all(isinstance(r, list) and all(_is_int(x, 0) for x in r) for r in m)
    for m in v), "a list of non-empty matrices of whole numbers >= 0")
PAIRS: Kind = (lambda v: isinstance(v, list) and all(isinstance(p, list) and len(p) == 2 and all(map(_is_number, p))
                                                     for p in v), "a list of [number, number] pairs")

# Schema rules: (field, kind, required). A rule applies where the field's parent object exists, and
# `required` then means the field must be there too. Only what genmedia reads is checked, by task.
Rule = tuple[str, Kind, bool]
_HEAD: list[Rule] = [("name", TEXT, True), ("task", TEXT, True), ("files", OBJECT, True)]
_FILE_RULES: list[Rule] = [("path", PATH, True), ("sha256", SHA256, True), ("bytes", COUNT, True)]
_RULES: dict[str, list[Rule]] = {
    "": [("description", STRING, False), ("training", OBJECT, False), ("metrics", OBJECT, False),
         ("latent", OBJECT, False), ("prior", OBJECT, False), ("prior.type", TEXT, False)],
    "level": [("vocabulary", OBJECT, True), ("vocabulary.chars", TILES, True),
              ("vocabulary.properties", STRING_LISTS, False), ("rows", _whole(1, 4096), True),
              ("rows_padded", _whole(1, 4096), True), ("latent", OBJECT, True), ("latent.channels", DIMENSION, True),
              ("latent.columns_per_step", _whole(1, 1024), True), ("decoding", OBJECT, False),
              ("decoding.tile_bias", NUMBER_MAP, False), ("decoding.bin_bias", OBJECT, False),
              ("reference", OBJECT, False),
              ("reference.source", STRING, True), ("reference.levels", COUNT, True),
              ("reference.window_columns", DIMENSION, True), ("reference.patterns", OBJECT, True),
              ("reference.windows", STRINGS, True), ("reference.points", PAIRS, True),
              ("reference.per_100_columns", NUMBER_MAP, True), ("reference.diversity", NUMBER, True),
              ("attributes", OBJECT, False), ("attributes.window_columns", _whole(1, 4096), True),
              ("attributes.steps_per_window", _whole(1, 4096), True), ("attributes.channels", DIMENSION, True),
              ("attributes.names", STRINGS, True), ("attributes.edges", OBJECT, True),
              ("attributes.corpus", INT_MATRICES, True)],
    "melody": [("steps", DIMENSION, True), ("latent", OBJECT, True), ("latent.size", DIMENSION, True),
               ("vocabulary", OBJECT, True), ("vocabulary.start_token", _whole(0, MAX_DIMENSION), True),
               ("vocabulary.size", DIMENSION, False), ("decoder", OBJECT, False), ("decoder.kind", DECODER_KIND, True),
               ("decoder.steps_per_bar", DIMENSION, False)],
    "denoise": [("input", OBJECT, False), ("input.multiple", _whole(1, 64), False), ("noise", OBJECT, False),
                ("noise.sigma_range", SIGMA_RANGE, False)],
}
# Rules that apply when a field has a given value (a prior's type, a decoder's kind).
_WHEN: dict[tuple[str, str], list[Rule]] = {
    ("prior.type", "exemplar-markov"): [("prior.sequences", MATRICES, True), ("prior.bandwidth", _number(0), True),
                                        ("prior.jump_probability", _number(0, 1), True),
                                        ("prior.same_map", _number(0, 1), False)],
    ("prior.type", "kernel-density"): [("prior.bandwidth", _number(0), True)],
    ("decoder.kind", "hierarchical"): [("decoder.bars", DIMENSION, True)],
}


def check_metadata(path: Path, meta: dict[str, Any]) -> None:
    """Raise `ModelError` naming `path` and the field unless `meta` fits the schema."""
    version = meta.get("format_version", _MISSING)
    if version is _MISSING:
        refuse(path, "format_version", "is missing")
    if not _is_int(version, 0) or version != METADATA_VERSION:
        raise ModelError(f"{path}: unsupported metadata format {shown(version)} (this genmedia reads "
                         f"{METADATA_VERSION})")
    _apply(path, meta, _HEAD)
    for role, entry in meta["files"].items():
        if not isinstance(entry, dict):
            refuse(path, f"files.{role}", "must be an object with path, sha256 and bytes")
        _apply(path, entry, _FILE_RULES, f"files.{role}.")  # a role may hold dots: not split
    _apply(path, meta, _RULES[""] + _RULES.get(meta["task"], []))
    for (field, value), rules in _WHEN.items():
        if _lookup(meta, field.split(".")) == value:
            _apply(path, meta, rules)
    together = _TOGETHER.get(meta["task"])
    if together is not None:
        together(path, meta)


def _check_level(path: Path, meta: dict[str, Any]) -> None:
    """What ties a level model's fields together."""
    rows, padded, chars = meta["rows"], meta["rows_padded"], meta["vocabulary"]["chars"]
    if rows > padded:
        refuse(path, "rows", f"must be at most rows_padded ({padded}), not {rows}")
    bias = _lookup(meta, ["decoding", "tile_bias"])
    for tile in bias if isinstance(bias, dict) else ():
        if tile not in chars:
            refuse(path, "decoding.tile_bias", f"names tile {shown(tile)}, which is not in vocabulary.chars")
    if _lookup(meta, ["prior", "type"]) == "exemplar-markov":
        channels = meta["latent"]["channels"]
        for i, sequence in enumerate(meta["prior"]["sequences"]):
            if len(sequence) != channels:
                refuse(path, f"prior.sequences.{i}",
                       f"must have latent.channels ({channels}) rows, not {len(sequence)}")
    if isinstance(meta.get("reference"), dict):
        _check_reference(path, meta["reference"])
    if isinstance(meta.get("attributes"), dict):
        _check_attributes(path, meta)
    bin_bias = _lookup(meta, ["decoding", "bin_bias"])
    if bin_bias is not _MISSING:
        _check_bin_bias(path, meta, bin_bias)


def _check_bin_bias(path: Path, meta: dict[str, Any], bin_bias: Any) -> None:
    """`decoding.bin_bias`: {attribute: {bin label: {tile: nats}}}, for a conditional model's attributes."""
    from genmedia.levels.attributes import LABELS

    names = _lookup(meta, ["attributes", "names"])
    if not isinstance(names, list):
        refuse(path, "decoding.bin_bias", "needs a conditional model (an 'attributes' block)")
    if not isinstance(bin_bias, dict):
        refuse(path, "decoding.bin_bias", "must be an object")
    for name, per_bin in bin_bias.items():
        if name not in names or not isinstance(per_bin, dict):
            refuse(path, "decoding.bin_bias", f"names {shown(name)}, which is not one of attributes.names")
        for label, per_tile in per_bin.items():
            if label not in LABELS[name]:
                refuse(path, f"decoding.bin_bias.{name}", f"names {shown(label)}, which is not a bin of {name}")
            if not isinstance(per_tile, dict) or not all(map(_is_number, per_tile.values())):
                refuse(path, f"decoding.bin_bias.{name}.{label}", "must be an object of finite numbers")
            for tile in per_tile:
                if tile not in meta["vocabulary"]["chars"]:
                    refuse(path, f"decoding.bin_bias.{name}.{label}",
                           f"names tile {shown(tile)}, which is not in vocabulary.chars")


def _check_attributes(path: Path, meta: dict[str, Any]) -> None:
    """A conditional level model's bins (`genmedia.levels.attributes.Bins.from_json`) and the training
    maps' bins per window, which sampling reads beside the fitted prior."""
    from genmedia.levels.attributes import LABELS

    spec = meta["attributes"]
    step = meta["latent"]["columns_per_step"]
    if spec["window_columns"] != spec["steps_per_window"] * step:
        refuse(path, "attributes.window_columns", f"must be steps_per_window x latent.columns_per_step ("
                                                  f"{spec['steps_per_window']} x {step}), not {spec['window_columns']}")
    names = spec["names"]
    if not names or len(set(names)) != len(names) or any(n not in LABELS for n in names):
        refuse(path, "attributes.names", f"must be distinct attributes of {', '.join(LABELS)}, not {shown(names)}")
    for name in names:
        edges = spec["edges"].get(name)
        wanted = len(LABELS[name]) - 1
        if not (isinstance(edges, list) and len(edges) == wanted and all(map(_is_number, edges))
                and all(a < b for a, b in zip(edges, edges[1:]))):
            refuse(path, f"attributes.edges.{name}", f"must be {wanted} increasing finite numbers")
    channels = sum(len(LABELS[n]) for n in names) + spec["steps_per_window"]
    if spec["channels"] != channels:
        refuse(path, "attributes.channels", f"must be {channels} (every bin of {', '.join(names)} and the "
                                            f"{spec['steps_per_window']} places in a window), not {spec['channels']}")
    corpus = spec["corpus"]
    sequences = meta["prior"]["sequences"] if _lookup(meta, ["prior", "type"]) == "exemplar-markov" else None
    if sequences is not None and len(corpus) != len(sequences):
        refuse(path, "attributes.corpus", f"must hold one map per prior sequence ({len(sequences)}), not {len(corpus)}")
    for i, windows in enumerate(corpus):
        if sequences is not None and len(windows) != -(-len(sequences[i][0]) // spec["steps_per_window"]):
            refuse(path, f"attributes.corpus.{i}", "must hold one row per window of prior sequence "
                                                   f"{i} ({-(-len(sequences[i][0]) // spec['steps_per_window'])})")
        for row in windows:
            if len(row) != len(names) or any(k >= len(LABELS[n]) for k, n in zip(row, names)):
                refuse(path, f"attributes.corpus.{i}", f"must hold one bin of each of {', '.join(names)} per window")


def _check_reference(path: Path, reference: dict[str, Any]) -> None:
    """The training corpus's statistics (`genmedia.levels.metrics.Reference.from_json`)."""
    if reference["window_columns"] != REFERENCE_WINDOW:
        refuse(path, "reference.window_columns", f"must be {REFERENCE_WINDOW} (the window genmedia's metrics use), "
                                                 f"not {shown(reference['window_columns'])}")
    patterns = reference["patterns"]
    for size in ("2", "3"):  # `level eval` reports the 2 x 2 and 3 x 3 pattern KL
        if size not in patterns:
            refuse(path, f"reference.patterns.{size}", "is missing")
    for size, counts in patterns.items():
        if not re.fullmatch(r"[1-9]", size):
            refuse(path, "reference.patterns", f"has key {shown(size)}; keys are window sizes from 1 to 9")
        cells = int(size) ** 2
        if not isinstance(counts, dict) or not all(
                isinstance(k, str) and k.isascii() and len(k) == cells and _is_int(n, 0) for k, n in counts.items()):
            refuse(path, f"reference.patterns.{size}",
                   f"must be an object of {cells}-tile ASCII patterns and their counts (whole numbers >= 0)")


def _check_melody(path: Path, meta: dict[str, Any]) -> None:
    """What ties a melody model's fields together."""
    steps, decoder = meta["steps"], meta.get("decoder", {})
    bars = decoder.get("bars", 1) if decoder.get("kind") == "hierarchical" else 1
    if steps % bars:
        refuse(path, "decoder.bars", f"must divide steps ({steps}) into whole bars, not {bars}")
    if decoder.get("steps_per_bar", 1) > steps:
        refuse(path, "decoder.steps_per_bar", f"must be at most steps ({steps}), not {decoder['steps_per_bar']}")
    if _lookup(meta, ["prior", "type"]) == "kernel-density" and "prior" not in meta["files"]:
        refuse(path, "files.prior", "is missing (a kernel-density prior keeps its means in the 'prior' file)")
    vocabulary = meta["vocabulary"]
    if "size" in vocabulary and vocabulary["start_token"] > vocabulary["size"]:
        refuse(path, "vocabulary.start_token", f"must be at most vocabulary.size ({vocabulary['size']}), "
                                               f"not {vocabulary['start_token']}")


_TOGETHER: dict[str, Callable[[Path, dict[str, Any]], None]] = {"level": _check_level, "melody": _check_melody}


def _apply(path: Path, meta: dict[str, Any], rules: list[Rule], prefix: str = "") -> None:
    for field, (test, what), required in rules:
        *parents, key = field.split(".")
        parent = _lookup(meta, parents)
        if not isinstance(parent, dict):
            continue  # the parent's own rule reports it, if it is required
        value = parent.get(key, _MISSING)
        if value is _MISSING and required:
            refuse(path, prefix + field, "is missing")
        elif value is not _MISSING and not test(value):
            refuse(path, prefix + field, f"must be {what}, not {shown(value)}")


def _lookup(meta: dict[str, Any], keys: list[str]) -> Any:
    value: Any = meta
    for key in keys:
        value = value.get(key, _MISSING) if isinstance(value, dict) else _MISSING
    return value


def shown(value: Any) -> str:
    """`value` as a message shows it: its JSON spelling on one line, cut to 40 characters."""
    text = json.dumps(value)  # depth is bounded by now; one line, and JSON's own spelling
    return text if len(text) <= 40 else f"{text[:37]}..."


def refuse(path: Path, field: str, why: str) -> NoReturn:
    raise ModelError(f"{path}: field {field!r} {why}")
