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

import numpy as np

from genmedia.errors import InputError
from genmedia.melody.data import split_of, windows
from genmedia.melody.metrics import distinct, in_key_share, notes_per_2_bars, token_accuracy, token_distance
from genmedia.melody.midi import read_melody
from genmedia.melody.model import MelodyModel, interpolate_melodies, sample_melodies

MORPH_STEPS = 7
MAX_PAIRS = 50


def teacher_forced_accuracy(model: MelodyModel, tokens: np.ndarray) -> float:
    return token_accuracy(model.teacher_forced_logits(model.encode(tokens), tokens).argmax(-1), tokens)


def _crossfade(a: np.ndarray, b: np.ndarray, t: float, rng: np.random.Generator) -> np.ndarray:
    return np.where(rng.random(len(a)) < t, b, a)


def morph_report(model: MelodyModel, firsts: list[np.ndarray]) -> dict:
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
        monotone += all(x <= y for x, y in zip(to_a, to_a[1:])) and all(x >= y for x, y in zip(to_b, to_b[1:]))
        notes_everywhere += all((s >= 2).any() for s in morph)
        fades = [_crossfade(a, b, k / (MORPH_STEPS - 1), rng) for k in range(MORPH_STEPS)]
        for k in range(1, MORPH_STEPS - 1):
            between.append(min(to_a[k], to_b[k]))
            between_fade.append(min(token_distance(fades[k], a), token_distance(fades[k], b)))
            key_latent.append(in_key_share(morph[k]))
            key_fade.append(in_key_share(fades[k]))
    n = max(1, len(pairs))
    return {"morph_pairs": len(pairs),
            "morph_mean_distance_to_a_by_step": [round(float(v), 3) for v in np.mean(curves_a, axis=0)],
            "morph_mean_distance_to_b_by_step": [round(float(v), 3) for v in np.mean(curves_b, axis=0)],
            "morph_monotone_share": round(monotone / n, 4),
            "morph_all_steps_have_notes_share": round(notes_everywhere / n, 4),
            "morph_interior_distance_to_nearer_end": round(float(np.mean(between)), 4),
            "crossfade_interior_distance_to_nearer_end": round(float(np.mean(between_fade)), 4),
            "morph_interior_in_key": round(float(np.mean(key_latent)), 4),
            "crossfade_interior_in_key": round(float(np.mean(key_fade)), 4)}


def evaluate_folder(folder: Path, *, model: str | Path | None = None, samples: int = 100, seed: int = 0,
                    split: str = "all") -> dict:
    vae = MelodyModel.load(model)
    melodies, unreadable = [], 0
    paths = sorted(Path(folder).glob("*.mid"))
    for path in paths if split == "all" else [p for p in paths if split_of(p.name) == split]:
        try:
            melodies.append(read_melody(path))
        except InputError:
            unreadable += 1
    if not melodies:
        raise InputError(folder, "contains no readable .mid files")
    per_tune = [windows(m, vae.steps) for m in melodies]
    data = np.stack([w for ws in per_tune for w in ws])
    recon = np.concatenate([vae.decode(vae.encode(data[i:i + 512])) for i in range(0, len(data), 512)])
    sampled = sample_melodies(vae, count=samples, seed=seed, temperature=1.0)
    report = {
        "model": vae.info.name, "split": split, "tunes": len(melodies), "unreadable_files": unreadable, "windows": len(data),
        "reconstruction_accuracy_greedy": round(token_accuracy(recon, data), 4),
        "reconstruction_accuracy_teacher_forced": round(
            float(np.mean([teacher_forced_accuracy(vae, data[i:i + 512]) for i in range(0, len(data), 512)])), 4),
        "samples": samples,
        "samples_in_key": round(float(np.mean([in_key_share(s) for s in sampled if (s >= 2).any()] or [0])), 4),
        "samples_notes_per_2_bars": round(float(np.mean([notes_per_2_bars(s) for s in sampled])), 2),
        "samples_distinct": distinct(sampled),
        "samples_with_notes": int(sum((s >= 2).any() for s in sampled)),
        "data_in_key": round(float(np.mean([in_key_share(w) for w in data])), 4),
        "data_notes_per_2_bars": round(float(np.mean([notes_per_2_bars(w) for w in data])), 2),
    }
    report.update(morph_report(vae, [ws[0] for ws in per_tune if ws]))
    return report
