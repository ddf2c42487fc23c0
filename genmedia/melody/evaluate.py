"""`genmedia music eval`: a melody model's figures on a folder of MIDI files.

- Reconstruction: every bar-aligned window of the folder's melodies, encoded to its latent
  mean and decoded greedily (and teacher-forced); per-step token accuracy.
- Samples: `samples` melodies at temperature 1: share of notes in key, notes per 2 bars,
  how many are distinct. The folder's own windows give the reference figures.
- Morphs: 7-step morphs between the first windows of pairs of tunes: the mean token distance
  to A and to B at each step, and the share of morphs where the distance to A never falls
  and to B never rises. In between: the interior
  steps' distance to the nearer endpoint, and their share of notes in key, against a
  data-space crossfade that takes each step's token from B with probability t.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from genmedia.errors import InputError
from genmedia.melody.data import SPLITS, read_folder, windows
from genmedia.melody.metrics import distinct, in_key_share, notes_per_2_bars, token_accuracy, token_distance
from genmedia.melody.model import MelodyModel, interpolate_melodies, is_monotone, sample_melodies

MORPH_STEPS = 7
MAX_PAIRS = 50


def teacher_forced_accuracy(model: MelodyModel, tokens: np.ndarray) -> float:
    return token_accuracy(model.teacher_forced_logits(model.encode(tokens), tokens).argmax(-1), tokens)


def _crossfade(a: np.ndarray, b: np.ndarray, t: float, rng: np.random.Generator) -> np.ndarray:
    return np.where(rng.random(len(a)) < t, b, a)


def morph_report(model: MelodyModel, firsts: list[np.ndarray]) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    pairs = [(firsts[i], firsts[i + 1]) for i in range(0, min(len(firsts) - 1, 2 * MAX_PAIRS), 2)]
    monotone = notes_everywhere = 0
    between, key_latent, key_fade, between_fade, curves_a, curves_b = [], [], [], [], [], []
    for a, b in pairs:
        morph = interpolate_melodies(model, a, b, steps=MORPH_STEPS)
        to_a = [token_distance(s, a) for s in morph]
        to_b = [token_distance(s, b) for s in morph]
        curves_a.append(to_a)
        curves_b.append(to_b)
        monotone += is_monotone(np.array(to_a), np.array(to_b))
        notes_everywhere += all((s >= 2).any() for s in morph)
        fades = [_crossfade(a, b, k / (MORPH_STEPS - 1), rng) for k in range(MORPH_STEPS)]
        for k in range(1, MORPH_STEPS - 1):
            between.append(min(to_a[k], to_b[k]))
            between_fade.append(min(token_distance(fades[k], a), token_distance(fades[k], b)))
            key_latent.append(in_key_share(morph[k]))
            key_fade.append(in_key_share(fades[k]))
    if not pairs:  # one tune: nothing to morph between
        return {"morph_pairs": 0}
    n = len(pairs)
    return {"morph_pairs": len(pairs),
            "morph_mean_distance_to_a_by_step": [round(float(v), 3) for v in np.mean(curves_a, axis=0)],
            "morph_mean_distance_to_b_by_step": [round(float(v), 3) for v in np.mean(curves_b, axis=0)],
            "morph_monotone_share": round(monotone / n, 4),
            "morph_all_steps_have_notes_share": round(notes_everywhere / n, 4),
            "morph_interior_distance_to_nearer_end": round(float(np.mean(between)), 4),
            "crossfade_interior_distance_to_nearer_end": round(float(np.mean(between_fade)), 4),
            "morph_interior_in_key": round(float(np.mean(key_latent)), 4),
            "crossfade_interior_in_key": round(float(np.mean(key_fade)), 4)}


def _reconstruction(vae: MelodyModel, data: np.ndarray, mask: np.ndarray, *, refine_limit: int = 0,
                    seed: int = 0) -> tuple[float, float, float, int]:
    """Per-step accuracy over the steps that hold the tune (not grid padding): greedy from the
    encoder's means, teacher-forced from them, and greedy from the refined latents a morph starts
    from, on every window or on a seeded choice of `refine_limit` of them (0: every window; refining
    costs tens of milliseconds a window, a second or so for a 16-bar one); and how many were refined."""
    chunks = range(0, len(data), 512)
    means = np.concatenate([vae.encode(data[i:i + 512]) for i in chunks])
    recon = np.concatenate([vae.decode(means[i:i + 512]) for i in chunks])
    forced = np.concatenate([vae.teacher_forced_logits(means[i:i + 512], data[i:i + 512]).argmax(-1) for i in chunks])
    chosen = np.arange(len(data))
    if 0 < refine_limit < len(data):
        chosen = np.sort(np.random.default_rng(seed).choice(len(data), refine_limit, replace=False))
    picked = range(0, len(chosen), 512)
    decoded = np.concatenate([vae.decode(vae.refine(data[chosen[i:i + 512]], means[chosen[i:i + 512]]))
                              for i in picked])
    return (float((recon == data)[mask].mean()), float((forced == data)[mask].mean()),
            float((decoded == data[chosen])[mask[chosen]].mean()), len(chosen))


def source_report(vae: MelodyModel, folder: Path, *, split: str = "all", refine_limit: int = 0,
                  seed: int = 0) -> dict[str, Any]:
    """Reconstruction (every bar-aligned window, and each tune's first window: what a morph of the
    tune with itself gives back) and morphs, on the melodies of one folder (one source). The refined
    figures (of every window, and of first windows) are each measured on a seeded choice of
    `refine_limit` windows (0: all of them).

    `split` picks the tunes of a split as training did (`genmedia.melody.data.read_folder`).
    The files that could not be read are passed over and listed under 'unreadable' ("PATH: why")."""
    by_split, skipped = read_folder(folder)
    tunes = [m for s in (SPLITS if split == "all" else (split,)) for _, m in by_split[s]]
    if not tunes:
        raise InputError(folder, "contains no readable .mid files" + ("" if split == "all" else f" in split {split}"))
    per_tune = [windows(m, vae.steps, masks=True, grid=vae.grid, pad_short=vae.grid) for m in tunes]
    pairs = [pair for ws in per_tune for pair in ws]
    if not pairs:
        raise InputError(folder, f"has no melody of {vae.steps} sixteenths with a note")
    data, mask = np.stack([w for w, _ in pairs]), np.stack([m for _, m in pairs])
    firsts = [(ws[0][0], ws[0][1]) for ws in per_tune if ws]
    greedy, forced, refined, refined_windows = _reconstruction(vae, data, mask, refine_limit=refine_limit, seed=seed)
    first_greedy, _, first_refined, refined_firsts = _reconstruction(
        vae, np.stack([w for w, _ in firsts]), np.stack([m for _, m in firsts]), refine_limit=refine_limit, seed=seed)
    report = {"folder": str(folder), "tunes": len(tunes), "unreadable_files": len(skipped),
              "unreadable": list(skipped), "windows": len(data),
              "reconstruction_accuracy_greedy": round(greedy, 4),
              "reconstruction_accuracy_teacher_forced": round(forced, 4),
              "reconstruction_accuracy_first_window": round(first_greedy, 4),
              # From the refined latents: what `music interpolate F F` gives back.
              "reconstruction_accuracy_greedy_refined": round(refined, 4), "refined_windows": refined_windows,
              "reconstruction_accuracy_first_window_refined": round(first_refined, 4),
              "refined_first_windows": refined_firsts,
              "data_in_key": round(float(np.mean([in_key_share(w) for w in data])), 4),
              "data_notes_per_2_bars": round(float(np.mean([notes_per_2_bars(w) for w in data])), 2)}
    report.update(morph_report(vae, [w for w, _ in firsts]))
    return report


def sample_figures(sampled: np.ndarray) -> dict[str, float | int]:
    """Sampled melodies (count, steps): share of notes in key (of those with notes), notes per 2 bars,
    how many are distinct and how many have notes."""
    return {"samples_in_key": round(float(np.mean([in_key_share(s) for s in sampled if (s >= 2).any()] or [0])), 4),
            "samples_notes_per_2_bars": round(float(np.mean([notes_per_2_bars(s) for s in sampled])), 2),
            "samples_distinct": distinct(sampled),
            "samples_with_notes": int(sum((s >= 2).any() for s in sampled))}


def evaluate_folder(folder: Path | list[Path], *, model: str | Path | None = None, samples: int = 100, seed: int = 0,
                    split: str = "all", refine_limit: int = 0) -> dict[str, Any]:
    """A model's figures on one or more folders of MIDI files, each a source: per source
    (`source_report`, refined figures on at most `refine_limit` windows of each, 0: all), pooled over
    the sources (weighted by windows), and for `samples` samples.

    One folder gives its figures at the top level, as well as under `sources`."""
    folders = [Path(folder)] if isinstance(folder, (str, Path)) else [Path(f) for f in folder]
    vae = MelodyModel.load(model)
    sources: dict[str, dict[str, Any]] = {}
    for path in folders:
        name = path.name if path.name not in sources else str(path)
        sources[name] = source_report(vae, path, split=split, refine_limit=refine_limit, seed=seed)
    sampled = sample_melodies(vae, count=samples, seed=seed, temperature=1.0)
    weight = np.array([r["windows"] for r in sources.values()], dtype=float)
    keys = ["reconstruction_accuracy_greedy", "reconstruction_accuracy_greedy_refined",
            "reconstruction_accuracy_first_window_refined", "reconstruction_accuracy_teacher_forced",
            "reconstruction_accuracy_first_window"]
    pooled = {key: round(float(np.dot(weight, [r[key] for r in sources.values()]) / weight.sum()), 4)
              for key in keys}
    pairs = np.array([r["morph_pairs"] for r in sources.values()], dtype=float)
    if pairs.sum():  # morph figures pooled over the sources' pairs (a source of one tune has none)
        for key in ("morph_monotone_share", "morph_all_steps_have_notes_share"):
            pooled[key] = round(float(np.dot(pairs, [r.get(key, 0.0) for r in sources.values()]) / pairs.sum()), 4)
    report: dict[str, Any] = {"model": vae.info.name, "split": split, "samples": samples, **sample_figures(sampled)}
    if len(sources) == 1:
        report.update(next(iter(sources.values())))
    report["pooled"] = pooled
    report["sources"] = sources
    return report
