"""Styled melody samples (`genmedia music sample --style`), measured. Prints a table.

    python bench/melody_styles.py --data ../shared/data/nottingham/midi/melody [--model NAME]
        [--split valid] [--samples 200] [--seed 0]

How well does a sample of a style sound like that style? Two measures, neither using the model:
- **classified as**: a style classifier on the tokens alone (class-balanced softmax regression on
  rhythm and pitch features of a 2-bar window: note onsets and rests at each of the 16 steps of a
  bar, note density, mean and spread of pitch, mean interval, share of repeated notes), trained on
  the training windows of the folder's styled tunes and scored on the `--split` windows first, as the
  reference; then the share of each style's samples it assigns to the requested style, against the
  shares it gives to unconditioned samples (`--style` not given);
- **in meter**: the share of samples written in the style's time signature, i.e. with nothing in
  the padding steps of a 12-step bar (jigs 6/8, waltzes 3/4; reels and hornpipes are 4/4: every
  sample fits), against the share of the style's `--split` windows and of unconditioned samples.
  (`sample_style` draws again for samples that do not fit, so this is 1 unless some never did.)
Also notes per 2 bars, notes in key, distinct samples and the share that repeat a training window
of the folder note for note, with the style's data beside them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from genmedia.melody.data import read_folder
from genmedia.melody.metrics import in_key_share
from genmedia.melody.midi import BAR_STEPS, HOLD, REST, note_spans
from genmedia.melody.model import MelodyModel, sample_melodies
from genmedia.melody.prior import repeat_share, window_keys
from genmedia.melody.styles import STYLES, load_style, sample_style, style_of


def features(tokens: np.ndarray) -> np.ndarray:
    """Rhythm and pitch features of one grid window (steps,)."""
    bars = tokens.reshape(-1, BAR_STEPS)
    onset = (bars >= 2).mean(axis=0)
    rest = (bars == REST).mean(axis=0)
    spans = note_spans(tokens)
    pitches = np.array([p for _, _, p in spans], dtype=float)
    steps = np.abs(np.diff(pitches)) if len(pitches) > 1 else np.zeros(1)
    pitch = [pitches.mean() / 12, pitches.std() / 12] if len(pitches) else [0.0, 0.0]
    held = (tokens == HOLD).mean()
    return np.concatenate([onset, rest, [len(spans) / 16, *pitch, steps.mean() / 12, (steps == 0).mean(), held]])


class Classifier:
    """Class-balanced softmax regression on standardised features (full-batch gradient descent)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, classes: int, steps: int = 2000, rate: float = 0.5):
        self.mu, self.sd = x.mean(axis=0), x.std(axis=0) + 1e-6
        xs = (x - self.mu) / self.sd
        self.w, self.b = np.zeros((x.shape[1], classes)), np.zeros(classes)
        weights = 1.0 / np.bincount(y, minlength=classes)[y]
        weights /= weights.sum()
        for _ in range(steps):
            logits = xs @ self.w + self.b
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(y)), y] -= 1
            p *= weights[:, None]
            self.w -= rate * (xs.T @ p + 1e-3 * self.w)
            self.b -= rate * p.sum(axis=0)

    def predict(self, x: np.ndarray) -> np.ndarray:
        result: np.ndarray = np.argmax(((x - self.mu) / self.sd) @ self.w + self.b, axis=1)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="Melody model (default: melody-2bar).")
    parser.add_argument("--data", type=Path, required=True, help="A folder of Nottingham-named tunes.")
    parser.add_argument("--split", default="valid", choices=["valid", "test"])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = MelodyModel.load(args.model)
    names = list(STYLES)
    splits = read_folder(args.data)[0]

    def windows(split: str) -> dict[str, np.ndarray]:
        found: dict[str, list[np.ndarray]] = {s: [] for s in names}
        for name, melody in splits[split]:
            style = style_of(name)
            if style is not None:
                found[style] += model.windows_of(melody)
        return {s: np.stack(w) for s, w in found.items() if w}

    train, held = windows("train"), windows(args.split)
    x = np.concatenate([np.stack([features(t) for t in train[s]]) for s in names])
    y = np.concatenate([np.full(len(train[s]), i) for i, s in enumerate(names)])
    classifier = Classifier(x, y, len(names))

    def shares(tokens: np.ndarray) -> np.ndarray:
        predicted = classifier.predict(np.stack([features(t) for t in tokens]))
        counts: np.ndarray = np.bincount(predicted, minlength=len(names)) / len(tokens)
        return counts

    seen = window_keys(w for _, melody in splits["train"] for w in model.windows_of(melody))
    plain = sample_melodies(model, count=args.samples, seed=args.seed)
    plain_shares = shares(plain)
    print(f"model {model.info.name}; classifier on {len(y)} training windows of {args.data}; "
          f"{args.samples} samples per row (seed {args.seed}, temperature 1)")
    print(f"\n| style | {args.split} windows | classifier on them | samples classified as the style "
          f"(unconditioned) | in the style's meter: samples / {args.split} data (unconditioned) "
          f"| notes per 2 bars: samples / data | in key: samples / data | distinct | repeat a training window |")
    print("|---|---|---|---|---|---|---|---|---|")
    for i, style in enumerate(names):
        chosen = load_style(model, style)
        meter = chosen.time_signature
        found = sample_style(model, chosen, count=args.samples, seed=args.seed)
        in_meter = np.mean([signature == meter for _, signature in found])
        # back on the grid (padding restored) to be measured as the data's windows are
        tokens = np.stack([chosen.on_grid(t, signature) for t, signature in found])
        data = held[style]
        reference = shares(data)[i]
        mine = shares(tokens)[i]
        data_meter = np.mean([chosen.in_meter(t)[1] == meter for t in data])
        plain_meter = np.mean([chosen.in_meter(t)[1] == meter for t in plain])
        notes = np.mean([len(note_spans(t)) * 32 / len(t) for t in tokens])
        data_notes = np.mean([len(note_spans(t)) * 32 / len(t) for t in data])
        key = np.nanmean([in_key_share(t) for t in tokens])
        data_key = np.nanmean([in_key_share(t) for t in data])
        distinct = len({t.tobytes() for t in tokens})
        copies = repeat_share(tokens, seen)
        print(f"| {style} ({meter[0]}/{meter[1]}) | {len(data)} | {reference:.3f} | **{mine:.3f}** "
              f"({plain_shares[i]:.3f}) | {in_meter:.3f} / {data_meter:.3f} ({plain_meter:.3f}) "
              f"| {notes:.2f} / {data_notes:.2f} | {key:.3f} / {data_key:.3f} | {distinct} | {copies:.3f} |")


if __name__ == "__main__":
    main()
