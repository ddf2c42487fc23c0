"""Tune styles for melody VAEs: sample a jig, a reel, a hornpipe or a waltz from an unconditioned model.

A style is a conditional prior over the trained model's latent space (the latent-constraints idea of
Engel et al. 2018, in its simplest form): a Gaussian kernel density estimate, as the model's own
fitted prior (`genmedia.melody.prior`), over the posterior means of the training windows of that
style's tunes only. Nothing is retrained, so any melody model gets styles from a labelled corpus.

The labels are the Nottingham collection's file names (`jigs12.mid`, `reelsa-c5.mid`, `hpps3.mid`,
`waltzes7.mid`; `STYLES`). Each style also records the time signature most of its training tunes
are in: a sample whose padding steps are empty (see `genmedia.melody.meter`) is written in that
meter (a jig in 6/8); `sample_style` draws again for samples that do not fit, so that a jig is
written in jig bars, and keeps a sample that never fits on the 16-step grid in 4/4 (no note dropped).

The means are stored beside the model in `NAME.styles.npy` (float32, the styles' rows one after
another, hash-checked like the ONNX files) and described by the metadata's "styles" entry
(`attach_styles`, the torch-free command `genmedia train melody-styles`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genmedia.errors import InputError, ModelError
from genmedia.latent import check_finite
from genmedia.melody.meter import bar_steps, fill, from_grid, grid_signature, to_grid
from genmedia.melody.midi import BAR_STEPS, REST
from genmedia.melody.prior import KernelPrior, choose_bandwidth, window_keys
from genmedia.npyfile import read_matrix

if TYPE_CHECKING:
    from genmedia.melody.model import MelodyModel

STYLES: dict[str, str] = {"jig": "jigs", "reel": "reels", "hornpipe": "hpps", "waltz": "waltzes"}
"""Style name -> the file-name prefix of its tunes in the Nottingham collection."""

EXEMPLARS = 2048  # posterior means kept per style (a seeded choice beyond this), as the fitted prior keeps


class UnknownStyle(ModelError, ValueError):
    """A style the model does not have: a bad option (a `ValueError`, as the API's bad options are)
    that the CLI reports in one line like the model's other errors."""


def style_of(name: str | Path) -> str | None:
    """The style of a tune from its file name (`STYLES`), None for a tune of none of them."""
    stem = Path(name).name.lower()
    for style, prefix in STYLES.items():
        if stem.startswith(prefix):
            return style
    return None


@dataclass(frozen=True)
class Style:
    """One style's prior and the time signature its samples are written in when they fit it (one
    the grid keeps bars of: `genmedia.melody.meter.grid_signature` gives it back unchanged)."""

    name: str
    prior: KernelPrior
    time_signature: tuple[int, int]

    @property
    def padded(self) -> bool:
        """Whether the style's bars fill 12 of the grid's 16 steps (so a sample may not fit them)."""
        return fill(bar_steps(self.time_signature)) != BAR_STEPS

    def in_meter(self, tokens: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """Grid tokens (steps,) in the style's meter if they fit it (nothing in the padding steps of
        a 12-step bar), else as they are, in 4/4."""
        if not self.padded:
            return tokens, self.time_signature
        width = fill(bar_steps(self.time_signature))
        bars = np.asarray(tokens).reshape(-1, BAR_STEPS) if len(tokens) % BAR_STEPS == 0 else None
        if bars is None or not (bars[:, width:] == REST).all():
            return tokens, (4, 4)
        return from_grid(tokens, bar_steps(self.time_signature)), self.time_signature

    def on_grid(self, tokens: np.ndarray, signature: tuple[int, int]) -> np.ndarray:
        """A sample as `in_meter` wrote it, back on the model's grid (its padding restored)."""
        return to_grid(tokens, bar_steps(signature))[0]


MAX_ROUNDS = 16  # batches of `count` latents drawn at most for a style whose samples must fit its bars


def sample_style(model: MelodyModel, style: Style, *, count: int, seed: int, temperature: float = 1.0,
                 offset: np.ndarray | None = None) -> list[tuple[np.ndarray, tuple[int, int]]]:
    """`count` samples of `style`: (tokens, time signature) each, latents drawn from the style's prior
    (moved by `offset`, e.g. concept vectors' `Concepts.shift`) and decoded with `temperature`.

    For a style in bars of 12 sixteenths (jigs in 6/8, waltzes in 3/4), samples that write notes into
    the grid's padding are not in the style's bars: more latents are drawn (up to `MAX_ROUNDS`
    batches of `count`) until `count` fit, and only if that many never do are the others kept, on
    the grid in 4/4 (`Style.in_meter`). The same seed gives the same samples."""
    check_finite(temperature=temperature)
    rng = np.random.default_rng(seed)
    fitting: list[tuple[np.ndarray, tuple[int, int]]] = []
    others: list[tuple[np.ndarray, tuple[int, int]]] = []
    rounds = MAX_ROUNDS if style.padded else 1
    for _ in range(rounds):
        z = style.prior.sample(rng, count)
        if offset is not None:
            z = (z + offset[None, :]).astype(np.float32)
        for tokens in model.decode(z, temperature=temperature, rng=rng):
            written = style.in_meter(tokens)
            (fitting if written[1] == style.time_signature else others).append(written)
        if len(fitting) >= count:
            break
    return (fitting + others)[:count]


def attach_styles(metadata_path: Path, data_dirs: Path | list[Path], *, command: str,
                  exemplars: int = EXEMPLARS, seed: int = 0, bandwidth: float | None = None) -> dict[str, Any]:
    """Fit a prior for every style with training tunes in `data_dirs` (their training splits, styles
    from file names), write the means to `NAME.styles.npy` beside the model and record them (file,
    sha256, rows, meter, bandwidth, command) in its metadata, rewritten atomically. Return the entry.
    `bandwidth` is every style's kernel width; None chooses each style's on its validation tunes
    (`genmedia.melody.prior.choose_bandwidth`: the narrowest whose samples repeat training windows
    about as rarely as unseen tunes of the style do; a style without validation tunes takes the
    model's own prior's width). `InputError` if no training tune has a style."""
    from genmedia.melody.concepts import encode_all
    from genmedia.melody.data import read_folder
    from genmedia.melody.model import MelodyModel
    from genmedia.npyfile import attach_matrix
    from genmedia.registry import load_info

    info = load_info(Path(metadata_path))
    model = MelodyModel(info)
    folders = [Path(data_dirs)] if isinstance(data_dirs, (str, Path)) else [Path(d) for d in data_dirs]
    windows: dict[str, list[np.ndarray]] = {s: [] for s in STYLES}
    meters: dict[str, Counter[tuple[int, int]]] = {s: Counter() for s in STYLES}
    held: dict[str, list[np.ndarray]] = {s: [] for s in STYLES}
    seen: set[bytes] = set()  # every training window, styled or not: what a sample must not copy
    tunes: Counter[str] = Counter()
    for folder in folders:
        splits = read_folder(folder)[0]
        for name, melody in splits["train"]:
            style = style_of(name)
            cut = [np.asarray(w, dtype=np.int64) for w in model.windows_of(melody)]
            seen |= window_keys(cut)
            if style is not None and cut:
                windows[style] += cut
                meters[style][melody.time_signature] += 1
                tunes[style] += 1
        for name, melody in splits["valid"]:
            style = style_of(name)
            if style is not None:
                held[style] += model.windows_of(melody)
    found = [s for s in STYLES if windows[s]]
    if not found:
        raise InputError(folders[0], "has no training tunes of a known style (file names starting with "
                         + ", ".join(STYLES.values()) + ")")
    if bandwidth is not None:
        check_finite(bandwidth=bandwidth)
        if not 0 < bandwidth <= 10:
            raise ValueError(f"bandwidth must be in (0, 10], not {bandwidth}")
    prior = info.metadata.get("prior")
    fallback = float(prior["bandwidth"]) if isinstance(prior, dict) and "bandwidth" in prior else 0.3
    rng = np.random.default_rng(seed)
    rows, entries, start = [], {}, 0
    for style in found:
        stacked = np.stack(windows[style]).astype(np.int64)
        if len(stacked) > exemplars:
            stacked = stacked[np.sort(rng.choice(len(stacked), exemplars, replace=False))]
        rows.append(encode_all(model, stacked))
        # as the grid keeps it (12/8 as 6/8, 9/8 as 4/4); a model without the meter grid writes 4/4 bars
        num, den = grid_signature(meters[style].most_common(1)[0][0]) if model.grid else (4, 4)
        entries[style] = {"rows": [start, start + len(stacked)], "tunes": tunes[style],
                          "windows": len(windows[style]), "time_signature": f"{num}/{den}"}
        if bandwidth is None:  # without validation tunes of the style, the model's own prior's width
            width, choice = choose_bandwidth(partial(styled_samples, model, style, rows[-1], (num, den)), seen=seen,
                                             held_out=held[style], seed=seed, fallback=fallback)
            entries[style].update(bandwidth=width, bandwidth_choice=choice)
        else:
            entries[style]["bandwidth"] = bandwidth
        start += len(stacked)
    meta = attach_matrix(info, "styles", np.concatenate(rows), {
        "type": "kernel-density",
        "styles": entries,
        "labels": "file-name prefixes: " + ", ".join(f"{p}* {s}" for s, p in STYLES.items()),
        "fitted_on": f"posterior means of the training windows of the styled tunes of {', '.join(map(str, folders))} "
                     f"(at most {exemplars} per style, a seeded choice with seed {seed})",
        "command": command,
    })
    entry: dict[str, Any] = meta["styles"]
    return entry


def styled_samples(model: MelodyModel, name: str, means: np.ndarray, signature: tuple[int, int], width: float,
                    count: int, seed: int) -> list[np.ndarray]:
    """Samples of a style's prior at `width` as `sample_style` gives them, back on the grid (a `Draw`)."""
    style = Style(name, KernelPrior(means, width), signature)
    return [style.on_grid(tokens, sig) for tokens, sig in sample_style(model, style, count=count, seed=seed)]


def style_names(model: MelodyModel) -> tuple[str, ...]:
    """The styles the model has priors for (none without a "styles" entry)."""
    entry = model.info.metadata.get("styles")
    styles = entry.get("styles") if isinstance(entry, dict) else None
    return tuple(styles) if isinstance(styles, dict) else ()


def load_style(model: MelodyModel, name: str) -> Style:
    """The model's prior for style `name`; `ModelError` in one line if it has no styles, not this
    one, or the file or entry is malformed."""
    info = model.info
    entry = info.metadata.get("styles")
    if entry is None or "styles" not in info.files:
        raise ModelError(f"{info.metadata_path}: model {info.name!r} has no styles; fit them with "
                         f"`genmedia train melody-styles --model {info.name} --data DIR` (a folder of "
                         f"Nottingham-named tunes)")
    where = f"{info.metadata_path}: field styles"
    styles = entry.get("styles") if isinstance(entry, dict) else None
    if not isinstance(styles, dict) or not styles:
        raise ModelError(f"{where}.styles must be a non-empty object")
    if name not in styles:
        raise UnknownStyle(f"model {info.name!r} has no style {name!r} (it has {', '.join(styles)})")
    means = read_matrix(info.file("styles"), columns=model.latent, kind="styles'",
                        needs=f"this model's styles need (windows, {model.latent})")
    style = styles[name]
    rows = style.get("rows") if isinstance(style, dict) else None
    if not (isinstance(rows, list) and len(rows) == 2 and all(isinstance(r, int) and not isinstance(r, bool)
                                                             for r in rows) and 0 <= rows[0] < rows[1] <= len(means)):
        raise ModelError(f"{where}.styles.{name}.rows must be [start, stop] within the file's {len(means)} rows")
    bandwidth = style.get("bandwidth")
    if not (isinstance(bandwidth, (int, float)) and not isinstance(bandwidth, bool) and 0 < bandwidth <= 10):
        raise ModelError(f"{where}.styles.{name}.bandwidth must be a number in (0, 10]")
    parts = str(style.get("time_signature", "4/4")).split("/")
    signature = (int(parts[0]), int(parts[1])) if len(parts) == 2 and all(
        p.isdigit() and 0 < int(p) <= 64 for p in parts) else None
    if signature is None or signature[1] & (signature[1] - 1) or grid_signature(signature) != signature:
        raise ModelError(f"{where}.styles.{name}.time_signature must be one the model writes bars of "
                         f"(such as 4/4, 2/4, 3/4 or 6/8)")
    return Style(name, KernelPrior(means[rows[0]:rows[1]], float(bandwidth)), signature)
