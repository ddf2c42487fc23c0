"""`genmedia music ...`: sample, morph, render and evaluate melodies (MIDI in, MIDI and WAV out)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from genmedia.cli.common import (FiniteFloatRange, GenmediaGroup, outdir_option, overwrite_option, resolve_seed,
                                 seed_option)

MODEL_HELP = "Melody model: a name from `genmedia models list` or a path to its .json (default: the 2-bar model)."
midi_path = click.Path(exists=True, dir_okay=False, path_type=Path)
tempo_option = click.option("--tempo", type=FiniteFloatRange(20, 400), default=None,
                            help="Tempo of the output in BPM.")
program_option = click.option("--program", type=click.IntRange(0, 127), default=0, show_default=True,
                              help="General MIDI program of the output track (0 = piano).")


def _wav_path(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    """The built-in synthesiser writes WAV only: any other extension would mislabel the bytes."""
    if value.suffix.lower() != ".wav":
        raise click.BadParameter(f"{value} must end in .wav: render writes WAV audio only", ctx, param)
    return value


@click.group(cls=GenmediaGroup)
def music() -> None:
    """Generate and morph melodies with a recurrent VAE (MIDI files, WAV previews)."""


@music.command()
@click.option("--model", default=None, help=MODEL_HELP)
@click.option("--count", "-n", type=click.IntRange(1, 10_000), default=10, show_default=True)
@click.option("--temperature", type=FiniteFloatRange(0.0, 3.0), default=1.0, show_default=True,
              help="Softmax temperature of the decoder: 0 is greedy.")
@click.option("--prior", type=click.Choice(["fitted", "normal"]), default="fitted", show_default=True,
              help="Latent prior: the model's fitted density over training melodies' latents, or plain N(0, I).")
@seed_option
@tempo_option
@program_option
@click.option("--wav", is_flag=True, help="Also write a WAV preview beside each MIDI file.")
@outdir_option
@overwrite_option
def sample(model, count, temperature, prior, seed, tempo, program, wav, outdir, overwrite) -> None:
    """Sample new melodies: OUTDIR/melody-000.mid, ..."""
    from genmedia.melody.model import MelodyModel, sample_melodies
    from genmedia.melody.output import write_melodies

    seed = resolve_seed(seed)
    vae = MelodyModel.load(model)
    tokens = sample_melodies(vae, count=count, seed=seed, temperature=temperature, prior=prior)
    write_melodies(outdir, [(f"melody-{i:03d}", t) for i, t in enumerate(tokens)], tempo=tempo or 120.0,
                   program=program, wav=wav, overwrite=overwrite)
    click.echo(f"wrote {count} melod{'ies' if count != 1 else 'y'} to {outdir}", err=True)


@music.command()
@click.argument("a", type=midi_path)
@click.argument("b", type=midi_path)
@click.option("--model", default=None, help=MODEL_HELP)
@click.option("--steps", type=click.IntRange(2, 100), default=7, show_default=True)
@click.option("--oversample", type=click.IntRange(1, 32), default=8, show_default=True,
              help="Decode the path at this many times the steps and pick the steps that move from A to B "
                   "step by step; 1 decodes evenly spaced points of the path.")
@tempo_option
@program_option
@click.option("--wav", is_flag=True, help="Also write morph.wav, the whole morph as audio.")
@outdir_option
@overwrite_option
def interpolate(a, b, model, steps, oversample, tempo, program, wav, outdir, overwrite) -> None:
    """Morph melody A into melody B: OUTDIR/step-00.mid ... and morph.mid (all steps in a row).

    Encodes the first bars of each melody (as many as the model covers, from the first bar
    with a note), interpolates the latent means spherically and decodes greedily, so no seed
    is involved. Each step is as long as the longer input, up to the model's length. The steps
    are chosen among the decodes of a finer path so that each is further from A and nearer to B
    than the one before, wherever the path allows. The tempo defaults to A's.
    """
    from genmedia.melody.midi import read_melody
    from genmedia.melody.model import MelodyModel, morph_melodies
    from genmedia.melody.output import write_melody_morph

    vae = MelodyModel.load(model)
    mel_a, mel_b = read_melody(a), read_melody(b)
    morph = morph_melodies(vae, mel_a, mel_b, steps=steps, oversample=oversample, sources=(a, b))
    write_melody_morph(outdir, morph, tempo=tempo or mel_a.tempo, program=program, wav=wav, overwrite=overwrite)
    click.echo(f"wrote {steps} steps and morph.mid{' and morph.wav' if wav else ''} to {outdir}", err=True)


@music.command()
@click.argument("midi_file", metavar="IN.mid", type=midi_path)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), callback=_wav_path,
              help="WAV file to write (.wav).")
@overwrite_option
def render(midi_file, output, overwrite) -> None:
    """Render a MIDI file to a 44.1 kHz 16-bit WAV with the built-in synthesiser."""
    from genmedia.melody.midi import load_midi, melody_from_midi
    from genmedia.melody.synth import synthesize, write_wav

    midi = load_midi(midi_file)
    melody_from_midi(midi, source=midi_file)  # rejects no notes, drums only, an absurd tempo
    write_wav(output, synthesize(midi, source=midi_file), overwrite=overwrite)
    click.echo(f"wrote {output}", err=True)


@music.command("eval")
@click.argument("folder", metavar="DIR", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--model", default=None, help=MODEL_HELP)
@click.option("--samples", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True)
@click.option("--split", type=click.Choice(["all", "train", "valid", "test"]), default="all", show_default=True,
              help="Only the tunes of this split (training splits tunes by a hash of the file name).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def evaluate(folder, model, samples, seed, split, as_json) -> None:
    """Score the model on a folder of MIDI files: reconstruction, samples and morphs."""
    from genmedia.melody.evaluate import evaluate_folder

    report = evaluate_folder(folder, model=model, samples=samples, seed=seed, split=split)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for key, value in report.items():
        click.echo(f"{key:>32}  {value}")
