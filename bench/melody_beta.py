"""The beta-VAE table: melody models trained alike but for their KL weight (`genmedia train melody --beta`),
side by side. Prints one markdown table.

    python bench/melody_beta.py --model runs/beta/b0.2/melody-2bar-beta0.2.json --model ... \\
        --data ../shared/data/nottingham/midi/melody --data runs/melody-data/ryansMammoth ... [--split test]

Per model, on the windows of `--split` of every `--data` folder (pooled; at most `--windows` of
them, a seeded choice):
- KL: mean KL(q(z|x) || N(0, I)) in nats per window, from the encoder's mean and log-variance;
- active: latent dimensions whose posterior mean varies across windows (variance > 0.01), the
  usual count of units in use (Burda et al. 2016);
- greedy: greedy reconstruction per 16th step from the encoder's means (no refinement, which
  would hide what the encoder learnt);
- samples: 100 samples at temperature 1 from N(0, I) and from the fitted prior (if the model has
  one): share of notes in key, notes per 2 bars, distinct of 100;
- concepts: each attribute's vector computed from the model's own training windows
  (`genmedia.melody.concepts.concept_vectors`, as `genmedia train melody-concepts` does) and swept
  from -1.5 to +1.5 in 7 steps from each test tune's first window (refined latents, as `music
  transform` starts from; `bench/melody_concepts.py`): the mean over attributes of the swept
  attribute's Spearman rho, and of its share of the sweep's movement: the swept attribute's |move|
  over the sum of every attribute's |move| (each in corpus std; 1 when only it moves, 0.2 when all
  five move alike; higher is cleaner).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from melody_concepts import first_windows, spearman, sweeps

from genmedia.melody.attributes import ATTRIBUTES
from genmedia.melody.concepts import concept_vectors, training_windows
from genmedia.melody.evaluate import sample_figures
from genmedia.melody.metrics import token_accuracy
from genmedia.melody.model import MelodyModel, sample_melodies
from genmedia.registry import load_info


def kl_and_active(model: MelodyModel, windows: np.ndarray) -> tuple[float, int]:
    means, kls = [], []
    for i in range(0, len(windows), 512):
        out = model.encoder.run(tokens=np.ascontiguousarray(windows[i:i + 512]))
        mu, logvar = out["mean"].astype(np.float64), out["logvar"].astype(np.float64)
        kls.append(0.5 * (mu**2 + np.exp(logvar) - 1.0 - logvar).sum(axis=1))
        means.append(mu)
    return float(np.concatenate(kls).mean()), int((np.concatenate(means).var(axis=0) > 0.01).sum())


def sample_row(model: MelodyModel, prior: str) -> str:
    if prior == "fitted" and not model.info.metadata.get("prior"):
        return "-"
    figures = sample_figures(sample_melodies(model, count=100, seed=0, prior=prior))
    key, notes, distinct = (figures[k] for k in ("samples_in_key", "samples_notes_per_2_bars", "samples_distinct"))
    return f"{key:.3f} / {notes:.1f} / {distinct}"


def concept_row(model: MelodyModel, folders: list[Path], split: str) -> tuple[float, float]:
    vectors, _, table = concept_vectors(model, training_windows(model, folders))
    spread = np.nanstd(table, axis=0)
    spread = np.where(spread > 0, spread, np.nan)  # a constant attribute has no scale to move in
    amounts = np.linspace(-1.5, 1.5, 7)
    tables = []
    for folder in folders:
        windows, lengths = first_windows(model, folder, split)
        tables.append(sweeps(model, windows, lengths, vectors, amounts))
    sweep = np.concatenate(tables, axis=1)  # (swept, tune, step, measured)
    rho = [np.nanmean([spearman(sweep[i, t, :, i]) for t in range(sweep.shape[1])]) for i in range(len(ATTRIBUTES))]
    move = np.abs(np.nanmean(sweep[:, :, -1, :] - sweep[:, :, 0, :], axis=1)) / spread[None, :]
    share = [move[i, i] / max(move[i].sum(), 1e-12) for i in range(len(ATTRIBUTES))]
    return float(np.mean(rho)), float(np.mean(share))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, help="Model metadata .json or name (repeat).")
    parser.add_argument("--data", type=Path, action="append", required=True, help="Source folder (repeat).")
    parser.add_argument("--split", default="test", choices=["train", "valid", "test"])
    parser.add_argument("--windows", type=int, default=4000, help="At most this many windows for KL and greedy.")
    args = parser.parse_args()
    print(f"split {args.split} of {', '.join(map(str, args.data))}\n")
    print("| model | beta | KL nats/window | active dims | greedy (means) | samples N(0,I): in key / notes / distinct "
          "| samples fitted prior | concept rho (mean) | swept share of movement (mean) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.model:
        model = MelodyModel(load_info(Path(name))) if name.endswith(".json") else MelodyModel.load(name)
        windows = training_windows(model, args.data, split=args.split, max_windows=args.windows)
        kl, active = kl_and_active(model, windows)
        batches = [windows[i:i + 512] for i in range(0, len(windows), 512)]
        greedy = sum(token_accuracy(model.decode(model.encode(b)), b) * len(b) for b in batches) / len(windows)
        rho, share = concept_row(model, args.data, args.split)
        beta = model.info.metadata.get("training", {}).get("config", {}).get("beta", "?")
        print(f"| {model.info.name} | {beta} | {kl:.1f} | {active} of {model.latent} | {greedy:.4f} "
              f"| {sample_row(model, 'normal')} | {sample_row(model, 'fitted')} | {rho:.3f} | {share:.3f} |",
              flush=True)


if __name__ == "__main__":
    main()
