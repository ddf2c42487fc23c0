"""`genmedia music ...`: sample, morph, render and evaluate melodies (MIDI in, MIDI and WAV out)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from genmedia.cli.common import (
    FiniteFloatRange,
    GenmediaGroup,
    echo_line,
    outdir_option,
    overwrite_option,
    resolve_seed,
    seed_option,
)

if TYPE_CHECKING:
    from genmedia.api import MelodyAttribute
    from genmedia.latent import PriorKind

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


ATTRIBUTE_NAMES = ("density", "pitch", "interval", "syncopation", "key")  # genmedia.melody.attributes.ATTRIBUTES
MAX_AMOUNT = 10.0  # genmedia.melody.concepts.MAX_AMOUNT (not imported: it would load numpy for --help)


def _attribute_shift(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> dict[str, float]:
    """--attribute NAME=AMOUNT (repeatable) -> {name: amount}; one line naming the bad item otherwise."""
    import math

    shift: dict[str, float] = {}
    for item in value:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep:
            raise click.BadParameter(f"{item!r} is not NAME=AMOUNT (e.g. density=+1.0)", ctx, param)
        if name not in ATTRIBUTE_NAMES:
            raise click.BadParameter(f"unknown attribute {name!r} in {item!r}; choose from "
                                     f"{', '.join(ATTRIBUTE_NAMES)}", ctx, param)
        try:
            amount = float(text)
        except ValueError:
            amount = math.nan
        if not math.isfinite(amount):
            raise click.BadParameter(f"{text!r} in {item!r} is not a finite amount", ctx, param)
        if abs(amount) > MAX_AMOUNT:
            raise click.BadParameter(f"{text!r} in {item!r} is outside -{MAX_AMOUNT:g} to {MAX_AMOUNT:g}", ctx, param)
        if name in shift:
            raise click.BadParameter(f"{name!r} is given twice", ctx, param)
        shift[name] = amount
    return shift


attribute_shift_option = click.option(
    "--attribute", multiple=True, metavar="NAME=AMOUNT", callback=_attribute_shift,
    help="Move every sampled latent along a concept vector, in units of the vector (repeatable; names: "
         + ", ".join(ATTRIBUTE_NAMES) + "; the model needs `genmedia train melody-concepts`).")


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
@attribute_shift_option
@click.option("--style", default=None, metavar="NAME",
              help="Sample tunes of a style (jig, reel, hornpipe, waltz): from the density of that style's "
                   "training latents (the model needs `genmedia train melody-styles`; not with --prior normal).")
@outdir_option
@overwrite_option
def sample(model: str | None, count: int, temperature: float, prior: PriorKind, seed: int | None,
           tempo: float | None, program: int, wav: bool, attribute: dict[str, float], style: str | None,
           outdir: Path, overwrite: bool) -> None:
    """Sample new melodies: OUTDIR/melody-000.mid, ..."""
    from genmedia import api
    from genmedia.melody.model import MelodyModel
    from genmedia.melody.output import write_melodies
    from genmedia.melody.styles import load_style

    if style is not None and prior != "fitted":
        raise click.UsageError("--style draws from the style's own fitted prior; it cannot be used with --prior normal")
    vae = MelodyModel.load(model)
    if style is not None:
        load_style(vae, style)  # an unknown style, or a model without styles: one line, before the seed's
    seed = resolve_seed(seed)
    # with --attribute, the latents are moved along concept vectors (genmedia.melody.concepts);
    # with --style, drawn from the style's prior (genmedia.melody.styles)
    melodies = api.sample_melodies(count=count, seed=seed, temperature=temperature, prior=prior, shift=attribute,
                                   style=style, model=vae)
    write_melodies(outdir, [(f"melody-{i:03d}", m.tokens) for i, m in enumerate(melodies)], tempo=tempo or 120.0,
                   program=program, wav=wav, overwrite=overwrite, time_signatures=[m.time_signature for m in melodies])
    kind = f" {style}" if style else ""
    click.echo(f"wrote {count}{kind} melod{'ies' if count != 1 else 'y'} to {outdir}", err=True)


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
def interpolate(a: Path, b: Path, model: str | None, steps: int, oversample: int, tempo: float | None, program: int,
                wav: bool, outdir: Path, overwrite: bool) -> None:
    """Morph melody A into melody B: OUTDIR/step-00.mid ... and morph.mid (all steps in a row).

    Encodes the first bars of each melody (as many as the model covers, from the first bar
    with a note), refines each latent until the model writes its melody back, interpolates
    spherically between them and decodes greedily, so no seed is involved. Each step is as long
    as the longer input, up to the model's length. The steps are chosen among the decodes of a
    finer path so that each is further from A and nearer to B than the one before, wherever the
    path allows. The tempo defaults to A's.
    """
    import numpy as np

    from genmedia import api
    from genmedia.melody.model import MelodyModel
    from genmedia.melody.output import write_melody_morph

    vae = MelodyModel.load(model)
    morph = api.morph_melodies(a, b, steps=steps, oversample=oversample, model=vae)
    write_melody_morph(outdir, np.stack([m.tokens for m in morph]), tempo=tempo or morph[0].tempo, program=program,
                       wav=wav, overwrite=overwrite, time_signature=morph[0].time_signature, inputs=(a, b))
    click.echo(f"wrote {steps} steps and morph.mid{' and morph.wav' if wav else ''} to {outdir}", err=True)


@music.command()
@click.argument("midi_file", metavar="IN.mid", type=midi_path)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), callback=_wav_path,
              help="WAV file to write (.wav).")
@overwrite_option
def render(midi_file: Path, output: Path, overwrite: bool) -> None:
    """Render a MIDI file to a 44.1 kHz 16-bit WAV with the built-in synthesiser."""
    from genmedia.melody.midi import load_midi, melody_from_midi
    from genmedia.melody.synth import synthesize, write_wav

    midi = load_midi(midi_file)
    melody_from_midi(midi, source=midi_file)  # rejects no notes, drums only, an absurd tempo
    write_wav(output, synthesize(midi, source=midi_file), overwrite=overwrite, inputs=[midi_file])
    click.echo(f"wrote {output}", err=True)


@music.command("eval")
@click.argument("folders", metavar="DIR...", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--model", default=None, help=MODEL_HELP)
@click.option("--samples", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True)
@click.option("--split", type=click.Choice(["all", "train", "valid", "test"]), default="all", show_default=True,
              help="Only the tunes of this split, as training split them (train/, valid/, test/ subfolders, "
                   "else a hash of the file name).")
@click.option("--refine-windows", type=click.IntRange(0), default=256, show_default=True,
              help="Measure the refined reconstructions (what a morph starts from) on this many windows, and this "
                   "many first windows, of each source, chosen by --seed (0: all; refining takes about a second a "
                   "window for the 16-bar model).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def evaluate(folders: tuple[Path, ...], model: str | None, samples: int, seed: int, split: str, refine_windows: int,
             as_json: bool) -> None:
    """Score the model on folders of MIDI files, each its own source: reconstruction, samples and morphs,
    per source and pooled."""
    from genmedia.melody.evaluate import evaluate_folder

    report = evaluate_folder(list(folders), model=model, samples=samples, seed=seed, split=split,
                             refine_limit=refine_windows)
    unreadable = [why for figures in report["sources"].values() for why in figures.get("unreadable", ())]
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        top = {k: v for k, v in report.items() if k not in ("sources", "unreadable") and not isinstance(v, dict)}
        sections = {k: v for k, v in report.items() if k not in ("sources", "unreadable") and isinstance(v, dict)}
        sources = {name: {k: v for k, v in figures.items() if k != "unreadable"}
                   for name, figures in report["sources"].items()}
        if len(sources) == 1 and all(top.get(k) == v for figures in sources.values() for k, v in figures.items()):
            sources = {}  # one source: its figures are the ones above
        tables = [top, *sections.values(), *sources.values()]
        width = max((len(k) for table in tables for k in table), default=0)
        for key, value in top.items():
            click.echo(f"{key:>{width}}  {value}")
        for title, table in [*sections.items(), *((f"source {name}", t) for name, t in sources.items())]:
            click.echo(f"{title}:")
            for key, value in table.items():
                click.echo(f"{key:>{width}}  {value}")
    for why in unreadable:  # scored without them; each named, and the run fails at the end
        echo_line(f"error: {why}", err=True)
    if unreadable:
        sys.exit(1)


def _transform_attribute(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, float | None]:
    """--attribute NAME or NAME=AMOUNT -> (name, amount or None)."""
    if "=" not in value:
        if value not in ATTRIBUTE_NAMES:
            raise click.BadParameter(f"{value!r} is not one of {', '.join(map(repr, ATTRIBUTE_NAMES))}")
        return value, None
    (name, amount), = _attribute_shift(ctx, param, (value,)).items()  # one item: one entry, or it raised
    return name, amount


@music.command()
@click.argument("midi_file", metavar="IN.mid", type=midi_path)
@click.option("--attribute", "attribute_and_amount", required=True, metavar="NAME[=AMOUNT]",
              callback=_transform_attribute,
              help="The attribute to move: density, pitch, interval, syncopation or key (note density, mean "
                   "pitch, mean interval, 16th-note syncopation, share of notes in key); NAME=AMOUNT, as "
                   "`music sample --attribute` takes it, also sets --amount.")
@click.option("--amount", type=FiniteFloatRange(-MAX_AMOUNT, MAX_AMOUNT), default=1.0, show_default=True,
              help="How far to move, in units of the attribute's concept vector (negative: less of it).")
@click.option("--steps", type=click.IntRange(2, 100), default=None,
              help="Write a sweep of this many steps from -AMOUNT to +AMOUNT into the folder -o names "
                   "(step-00.mid, ...), instead of one file.")
@click.option("--oversample", type=click.IntRange(1, 32), default=8, show_default=True,
              help="With --steps: decode the line at this many times as many amounts and choose the steps among "
                   "them so that the attribute moves one way step by step, as morphs do (1: evenly spaced).")
@click.option("--model", default=None, help=MODEL_HELP)
@tempo_option
@program_option
@click.option("--wav", is_flag=True, help="Also write a WAV preview beside each MIDI file.")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="MIDI file to write (.mid); with --steps, the folder to write the sweep into.")
@overwrite_option
def transform(midi_file: Path, attribute_and_amount: tuple[MelodyAttribute, float | None], amount: float,
              steps: int | None, oversample: int, model: str | None, tempo: float | None, program: int, wav: bool,
              output: Path, overwrite: bool) -> None:
    """Move a melody along a concept vector: decode z + AMOUNT x the attribute's vector.

    Encodes the first bars of the melody (as many as the model covers), adds the attribute's
    vector (the mean latent of the training windows richest in the attribute minus that of the
    poorest quarter; see `genmedia train melody-concepts`) and decodes greedily, so no seed is
    involved. The output is as long as the input, up to the model's length, in the input's meter
    where the model keeps it; the tempo defaults to the input's.
    """
    from genmedia import api
    from genmedia.fileio import output_set
    from genmedia.melody.model import MelodyModel
    from genmedia.melody.output import add_melodies

    ctx = click.get_current_context()
    attribute, given = attribute_and_amount
    if given is not None:
        if ctx.get_parameter_source("amount") is ParameterSource.COMMANDLINE:
            raise click.UsageError(f"--attribute {attribute}={given:+g} gives the amount already; leave out --amount")
        amount = given
    if steps is None and ctx.get_parameter_source("oversample") is ParameterSource.COMMANDLINE:
        raise click.UsageError("--oversample chooses the steps of a sweep; give --steps with it")
    if steps is None and output.suffix != ".mid":
        raise click.BadParameter(f"{output} must end in .mid (or give --steps to write a sweep into a folder)",
                                 param_hint="'-o' / '--output'")
    vae = MelodyModel.load(model)
    if steps is None:
        done = api.transform_melody(midi_file, attribute=attribute, amount=amount, model=vae)
        with output_set(output.parent, overwrite=overwrite, inputs=(midi_file,)) as batch:
            add_melodies(batch, [(output.stem, done.melody.tokens)], tempo=tempo or done.melody.tempo,
                         program=program, wav=wav, time_signature=done.melody.time_signature)
        click.echo(f"wrote {output}{' and ' + output.with_suffix('.wav').name if wav else ''} "
                   f"({attribute} {done.before:.3g} -> {done.after:.3g})", err=True)
        return
    sweep = api.sweep_melody(midi_file, attribute=attribute, amount=amount, steps=steps, oversample=oversample,
                             model=vae)
    first = sweep[0].melody
    with output_set(output, overwrite=overwrite, inputs=(midi_file,)) as batch:
        add_melodies(batch, [(f"step-{k:02d}", step.melody.tokens) for k, step in enumerate(sweep)],
                     tempo=tempo or first.tempo, program=program, wav=wav, time_signature=first.time_signature)
    values = " ".join(f"{step.amount + 0.0:+.3g}: {step.after:.3g}" for step in sweep)  # (+ 0.0: no "-0")
    click.echo(f"wrote {steps} steps to {output} ({attribute} by amount, {0.0 - amount:+g} to {amount + 0.0:+g}: "
               f"{values})", err=True)
