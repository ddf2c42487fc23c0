"""The melody sampling prior's kernel width, measured: novelty against quality. Prints a table.

    python bench/melody_prior.py --data DIR [--data DIR ...] [--model NAME] [--style NAME]
        [--bandwidths 0.3,0.4,0.5,0.6,0.8] [--samples 1000] [--split valid] [--seed 0]

For each kernel width (a fraction of the spread of the prior's posterior means per latent dimension,
as `genmedia train melody-prior --bandwidth` and `train melody-styles --bandwidth` take it), `--samples`
latents are drawn from the model's fitted prior with that width (or from a style's, with `--style`)
and decoded at temperature 1, as `music sample` does (`--style`: as `music sample --style` does,
drawing again for samples that do not fit a 6/8 or 3/4 style's bars). Measured:
- repeats: the share of samples that repeat a training window of the `--data` folders note for note,
  beside the share of the `--split` windows (of the style's tunes, with `--style`) that do: samples
  as novel as unseen tunes repeat about as often;
- in key, notes per 2 bars and distinct samples, beside the `--split` windows' figures.
Choose the width on the validation split: the narrowest whose repeats come near the held-out share.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from genmedia.melody.data import read_folder
from genmedia.melody.metrics import in_key_share
from genmedia.melody.midi import note_spans
from genmedia.melody.model import MelodyModel
from genmedia.melody.prior import KernelPrior, kernel_samples, load_prior, repeat_share, window_keys
from genmedia.melody.styles import load_style, style_of, styled_samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="Melody model (default: melody-2bar).")
    parser.add_argument("--data", type=Path, action="append", required=True,
                        help="The model's training folders (repeatable).")
    parser.add_argument("--style", default=None, help="Measure a style's prior instead of the model's own.")
    parser.add_argument("--bandwidths", default="0.3,0.4,0.5,0.6,0.8")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--split", default="valid", choices=["valid", "test"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = MelodyModel.load(args.model)
    prior = load_style(model, args.style).prior if args.style else load_prior(model.info, model.latent)
    if not isinstance(prior, KernelPrior):
        parser.error(f"model {model.info.name} has no fitted prior")
    seen: set[bytes] = set()
    held: list[np.ndarray] = []
    for folder in args.data:
        splits = read_folder(folder)[0]
        seen |= window_keys(w for _, melody in splits["train"] for w in model.windows_of(melody))
        held += [w for name, melody in splits[args.split]
                 if args.style is None or style_of(name) == args.style for w in model.windows_of(melody)]
    if not held:
        parser.error(f"no {args.split} windows" + (f" of style {args.style}" if args.style else ""))

    def measure(tokens: list[np.ndarray]) -> tuple[float, float, float]:
        return (repeat_share(tokens, seen),
                float(np.nanmean([in_key_share(t) for t in tokens])),
                float(np.mean([len(note_spans(t)) for t in tokens])))

    repeats, key, notes = measure(held)
    label = f"style {args.style}" if args.style else "the fitted prior"
    print(f"model {model.info.name}, {label} over {len(prior.means)} posterior means (its width now "
          f"{prior.bandwidth:g}); {args.samples} samples per row, seed {args.seed}, temperature 1")
    print("\n| kernel width | repeat a training window | in key | notes per 2 bars | distinct |")
    print("|---|---|---|---|---|")
    print(f"| ({len(held)} {args.split} windows) | {repeats:.3f} | {key:.3f} | {notes:.2f} | |")
    for bandwidth in [float(b) for b in args.bandwidths.split(",")]:
        if args.style:
            style = load_style(model, args.style)
            tokens = styled_samples(model, style.name, prior.means, style.time_signature, bandwidth, args.samples,
                                    args.seed)
        else:
            tokens = list(kernel_samples(model, prior.means, bandwidth, args.samples, args.seed))
        repeats, key, notes = measure(tokens)
        distinct = len({t.tobytes() for t in tokens})
        print(f"| {bandwidth:g} | {repeats:.3f} | {key:.3f} | {notes:.2f} | {distinct} |")


if __name__ == "__main__":
    main()
