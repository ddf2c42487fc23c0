"""`genmedia level ...`: sample, morph, render, check and evaluate tile-based game levels."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from genmedia import limits
from genmedia.cli.common import (
    F,
    FiniteFloatRange,
    GenmediaGroup,
    Report,
    echo_line,
    outdir_option,
    overwrite_option,
    resolve_seed,
    seed_option,
)

if TYPE_CHECKING:
    import numpy as np

    from genmedia.latent import PriorKind

MODEL_HELP = "Level model: a name from `genmedia models list` or a path to its .json (default: smb-level-vae)."
level_path = click.Path(exists=True, dir_okay=False, path_type=Path)


def _width(ctx: click.Context, param: click.Parameter, value: int) -> int:
    """`--width` up to the columns `genmedia.limits` allows when the command runs (GENMEDIA_MAX_LEVEL_COLUMNS)."""
    bounds = limits.current()
    if value > bounds.level_columns:
        raise click.BadParameter(limits.over(bounds, "level_columns", value, "columns"), ctx, param)
    return value


COUNT_BINS, ELEVATION_BINS = ("none", "few", "some", "many"), ("low", "high")  # genmedia.levels.attributes.LABELS
CONTROLS = {"enemies": COUNT_BINS, "pipes": COUNT_BINS, "gaps": COUNT_BINS, "blocks": COUNT_BINS,
            "coins": COUNT_BINS, "elevation": ELEVATION_BINS}
CONTROL_HELP = {"enemies": "enemies (E)", "pipes": "pipes (<> heads)", "gaps": "columns without a floor",
                "blocks": "bricks and question blocks", "coins": "coins",
                "elevation": "how high the ground (X) runs (its mean height)"}


def _labels(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    """'many' or 'none,many' (equal parts of the level, in order) -> the labels, each a bin of the option."""
    if value is None:
        return None
    labels = [part.strip().lower() for part in value.split(",")]
    bad = [label for label in labels if label not in CONTROLS[param.name]]
    if bad:
        raise click.BadParameter(f"{bad[0]!r} is not one of {'|'.join(CONTROLS[param.name])} (a comma-separated "
                                 "list asks for equal parts of the level in turn)", ctx, param)
    return labels


def control_options(unasked: str) -> Callable[[F], F]:
    """--enemies, --pipes, --gaps, --blocks, --coins, --elevation and --prompt; `unasked` says what
    becomes of the attributes not asked for (drawn, for sample; kept, for transform)."""
    def decorate(func: F) -> F:
        func = click.option("--prompt", default=None, metavar="TEXT",
                            help='MarioGPT-style request, e.g. "many pipes, no enemies, low elevation" (the '
                                 'options above win over it); what it does not understand is named on stderr.')(func)
        for name in reversed(CONTROLS):
            bins = CONTROLS[name]
            func = click.option(f"--{name}", name, default=None, metavar="|".join(bins), callback=_labels,
                                help=f"Bin of {CONTROL_HELP[name]} per 16-column window; '{bins[0]},{bins[-1]}' "
                                     f"asks for the first half, then the second. {unasked}")(func)
        return func
    return decorate


def _request(options: dict[str, list[str] | None], prompt: str | None) -> dict[str, list[str]]:
    """The bins asked for by the options and the prompt (the options win; `genmedia.level_request`),
    telling stderr what the prompt did not say in words genmedia knows."""
    from genmedia import api

    request = api.level_request(attributes={name: labels for name, labels in options.items() if labels},
                                prompt=prompt)
    if request.not_understood:
        click.echo(f"prompt: did not understand {', '.join(repr(m) for m in request.not_understood)} (say e.g. "
                   "'many pipes', 'no enemies', 'few gaps', 'some blocks', 'many coins', 'low elevation')", err=True)
    return request.attributes


def _described(asked: dict[str, list[str]]) -> str:
    return " ".join(f"--{name} {','.join(labels)}" for name, labels in asked.items())


def _png_name(path: Path, option: str) -> None:
    """Refuse a PNG output whose name does not end in .png (a PNG named map.txt passes for a map)."""
    if path.suffix.lower() != ".png":
        raise click.BadParameter(f"{path} must end in .png (a PNG is written)", param_hint=option)


@click.group(cls=GenmediaGroup)
def level() -> None:
    """Generate, morph, draw and check tile-based game levels (VGLC text maps)."""


# sample and transform: how many decodes one level gets before the command gives up on it.
max_attempts_option = click.option("--max-attempts", type=click.IntRange(1, 10_000), default=50, show_default=True,
                                   help="Decodes per level (the first, then one per local repair) before giving up.")

@level.command()
@click.option("--model", default=None, help=MODEL_HELP)
@click.option("--count", "-n", type=click.IntRange(1, 10_000), default=10, show_default=True)
@click.option("--width", type=click.IntRange(16), default=150, show_default=True, callback=_width,
              help=f"Columns per level (at most {limits.DEFAULT.level_columns:,}, or GENMEDIA_MAX_LEVEL_COLUMNS).")
@seed_option
@click.option("--temperature", type=FiniteFloatRange(0.0, 3.0), default=1.0, show_default=True,
              help="Scale of the latent prior's noise: lower is closer to the training levels, higher is wilder.")
@click.option("--prior", type=click.Choice(["fitted", "normal"]), default="fitted", show_default=True,
              help="Latent prior: the model's fitted exemplar prior, or the plain N(0, I).")
@click.option("--no-check", is_flag=True, help="Keep levels that fail the playability check.")
@max_attempts_option
@click.option("--no-png", is_flag=True, help="Write only the .txt maps (and, from a conditional model, the .json).")
@control_options("Unasked attributes are drawn as in the corpus.")
@outdir_option
@overwrite_option
def sample(model: str | None, count: int, width: int, seed: int | None, temperature: float, prior: PriorKind,
           no_check: bool, max_attempts: int, no_png: bool, prompt: str | None, outdir: Path, overwrite: bool,
           **options: list[str] | None) -> None:
    """Sample new playable levels: OUTDIR/level-000.txt and a PNG beside each.

    Asking for attributes (--enemies many, --prompt "no pipes, high elevation", ...) samples from
    the conditional model (smb-level-cvae unless --model says otherwise), which also writes
    OUTDIR/level-000.json: the bins each 16-column window was made with, asked for or drawn.
    """
    from genmedia import api
    from genmedia.levels.model import CONDITIONAL_MODEL, LevelModel
    from genmedia.levels.output import write_levels

    asked = _request(options, prompt)
    seed = resolve_seed(seed)
    if prompt is not None and not asked:
        click.echo("prompt: nothing in it asked for an attribute, so the levels are sampled as without --prompt",
                   err=True)
    vae = LevelModel.load(model if model is not None or not asked else CONDITIONAL_MODEL)
    try:
        levels = api.sample_levels(count=count, width=width, seed=seed, temperature=temperature, prior=prior,
                                   check=not no_check, max_attempts=max_attempts, attributes=asked, model=vae)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    records = None
    if vae.conditional:
        records = [{**record, "seed": seed, "level": i, **({"prompt": prompt} if prompt is not None else {})}
                   for i, record in enumerate(levels.records)]
    write_levels(outdir, [(f"level-{i:03d}", lv) for i, lv in enumerate(levels)],
                 png=not no_png, overwrite=overwrite, records=records)
    extra = sum(a - 1 for a in levels.attempts)
    note = ("; 1 unplayable stretch was redrawn" if extra == 1 else
            f"; {extra} unplayable stretches were redrawn" if extra else "")
    what = f" ({_described(asked)})" if asked else ""
    click.echo(f"wrote {count} level{'s' * (count != 1)} of {width} columns{what} to {outdir}{note}", err=True)


@level.command()
@click.argument("level_file", metavar="IN.txt", type=level_path)
@click.option("--model", default=None, help="Conditional level model: a name or a path to its .json "
                                            "(default: smb-level-cvae).")
@control_options("Unasked attributes keep the bins measured on IN.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="OUT.txt to write; OUT.json (the bins per window) and OUT.png go beside it.")
@click.option("--no-check", is_flag=True, help="Keep the result even if it fails the playability check.")
@max_attempts_option
@click.option("--no-png", is_flag=True, help="Write no PNG.")
@overwrite_option
def transform(level_file: Path, model: str | None, prompt: str | None, output: Path, no_check: bool,
              max_attempts: int, no_png: bool, overwrite: bool, **options: list[str] | None) -> None:
    """Change attributes of a level you have: keep its latents, decode with other bins.

    IN is encoded given the bins measured on it; the attributes asked for (--enemies many, ...)
    get their new bins in every window (or in equal parts, 'none,many'), the others keep IN's.
    The result is repaired and checked as `sample` does (deterministic: no seed is involved).
    """
    from genmedia import api
    from genmedia.levels.model import CONDITIONAL_MODEL, LevelModel
    from genmedia.levels.output import write_levels

    if output.suffix != ".txt":
        raise click.BadParameter(f"{output}: give the .txt map to write (OUT.txt)", param_hint="'-o'")
    asked = _request(options, prompt)
    if not asked:
        raise click.UsageError("say what to change: --enemies, --pipes, --gaps, --blocks, --coins, --elevation "
                               "or --prompt")
    vae = LevelModel.load(model if model is not None else CONDITIONAL_MODEL)
    try:
        done = api.transform_level(level_file, attributes=asked, check=not no_check, max_attempts=max_attempts,
                                   model=vae)
    except ValueError as exc:  # a model that is not conditional
        raise click.UsageError(str(exc)) from None
    write_levels(output.parent, [(output.stem, done.level)], png=not no_png, overwrite=overwrite,
                 records=[{**done.record, "input": str(level_file)}], inputs=[level_file])
    said = "; ".join(f"{name} in its bin in {hits} of {windows} windows"
                     for name, (hits, windows) in done.in_bin.items())
    fixed = "; repaired locally to stay playable" if done.repaired else ""
    click.echo(f"wrote {output} ({_described(asked)}): {said or 'no whole 16-column window'}{fixed}", err=True)


@level.command()
@click.argument("a", type=level_path)
@click.argument("b", type=level_path)
@click.option("--model", default=None, help=MODEL_HELP)
@click.option("--steps", type=click.IntRange(2, 200), default=7, show_default=True)
@click.option("--no-check", is_flag=True, help="Keep steps that fail the playability check, unrepaired.")
@outdir_option
@overwrite_option
def interpolate(a: Path, b: Path, model: str | None, steps: int, no_check: bool, outdir: Path,
                overwrite: bool) -> None:
    """Morph level A into level B: OUTDIR/step-00.txt ... (with PNGs) and morph.png.

    Both maps are encoded to their latent means and the path between them is decoded
    (deterministic: no seed is involved). Maps of different widths also morph in width:
    step k is the linear blend of the two widths. Every step is checked, and one that
    Mario cannot finish is repaired locally, as `sample` does; the repaired steps are named.
    """
    from genmedia import api
    from genmedia.levels.model import LevelModel
    from genmedia.levels.output import check_level_morph, write_level_morph
    from genmedia.levels.tiles import read_level

    vae = LevelModel.load(model)
    map_a, map_b = (read_level(p, tiles=vae.tiles) for p in (a, b))
    check_level_morph(outdir, map_a, map_b, steps, overwrite=overwrite, inputs=(a, b))  # fail before the slow part
    morph = api.morph_levels(a, b, steps=steps, check=not no_check, model=vae)
    write_level_morph(outdir, morph, overwrite=overwrite, inputs=(a, b))
    many = len(morph.repaired) > 1
    fixed = (f"; step{'s' * many} {', '.join(map(str, morph.repaired))} failed the playability check and "
             f"{'were' if many else 'was'} repaired locally") if morph.repaired else ""
    click.echo(f"wrote {steps} steps and morph.png to {outdir}{fixed}", err=True)


@level.command()
@click.argument("level_file", metavar="LEVEL.txt", type=level_path)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PNG to write.")
@click.option("--tile-size", type=click.IntRange(1, 64), default=16, show_default=True, help="Pixels per tile.")
@overwrite_option
def render(level_file: Path, output: Path, tile_size: int, overwrite: bool) -> None:
    """Draw a level map as a PNG with genmedia's own tile art."""
    from genmedia.levels.output import save_image
    from genmedia.levels.render import render_level
    from genmedia.levels.tiles import read_level

    _png_name(output, "'-o' / '--output'")
    save_image(render_level(read_level(level_file), tile_size=tile_size, source=level_file), output,
               overwrite=overwrite, inputs=[level_file])
    click.echo(f"wrote {output}", err=True)


@level.command()
@click.argument("levels", metavar="LEVEL.txt...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--legend", type=level_path, default=None, help="VGLC legend JSON saying which tiles are solid.")
@click.option("--thorough", is_flag=True,
              help="Where the fast search fails, search frame by frame over every input (slower, strict answer).")
def check(levels: tuple[Path, ...], legend: Path | None, thorough: bool) -> None:
    """Check that small Mario, with the game engine's physics, can finish each level; exit 0 only if all pass.

    The check searches for inputs that play the level to its end frame by frame (see
    `genmedia.levels.check`); enemies are assumed stompable or avoidable. A file that
    cannot be read is named and counted as failed, and the rest are still checked.
    """
    from genmedia.levels.check import SMB_SOLID
    from genmedia.levels.tiles import SMB_CHARS, load_legend

    tiles = load_legend(legend) if legend else None
    solid, known = (tiles.solid(), "".join(tiles.chars)) if tiles else (SMB_SOLID, SMB_CHARS)
    report = Report()
    unread = [p for p in levels
              if not _check_one(p, solid, known, report, from_legend=tiles is not None, thorough=thorough)]
    unread_note = f"; cannot read {len(unread)}: {', '.join(map(str, unread))}" if unread else ""
    echo_line(f"{report.done} of {len(levels)} levels playable{unread_note}", err=True)
    raise SystemExit(report.exit_code)


def _check_one(path: Path, solid: frozenset[str], known: str, report: Report, *, from_legend: bool,
               thorough: bool = False) -> bool:
    """Check one map and report it; False if it could not be read."""
    from genmedia.errors import InputError
    from genmedia.levels.check import check_playable
    from genmedia.levels.repair import find_structure_errors
    from genmedia.levels.tiles import read_level, unknown_tiles

    try:
        grid = read_level(path)
    except InputError as exc:
        report.fail(path, exc.why)
        return False
    unknown = unknown_tiles(grid, known)
    if unknown:
        where = "the legend" if from_legend else "Super Mario Bros. (pass --legend for another game)"
        echo_line(f"warning: {path}: unknown tiles {', '.join(map(repr, unknown))}, not in {where}; "
                  "they are checked as open space", err=True)
    result = check_playable(grid, solid=solid, thorough=thorough)
    for problem in find_structure_errors(grid)[:3]:
        echo_line(f"warning: {path}: {problem}", err=True)
    hint = "; try --thorough" if result.gave_up and not thorough else ""
    echo_line(f"{path}: {result.describe()}{hint}")
    if result.playable:
        report.done += 1
    else:
        report.failed.append(str(path))
    return True


@level.command("eval")
@click.argument("folder", metavar="DIR", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--reference", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder of reference maps (default: the default model's training corpus, whose statistics "
                   "ship in its metadata).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also draw the expressive-range plot (linearity vs leniency) to this PNG.")
@overwrite_option
def evaluate(folder: Path, reference: Path | None, as_json: bool, plot: Path | None, overwrite: bool) -> None:
    """Score a folder of level maps: playability, tile-pattern KL, novelty, diversity."""
    from genmedia.errors import InputError
    from genmedia.levels.metrics import KL_EPSILON, WINDOW, Reference, evaluate as run_eval
    from genmedia.levels.output import save_image
    from genmedia.levels.render import plot_expressive_range
    from genmedia.levels.tiles import read_level
    from genmedia.registry import get_model

    if plot is not None:
        _png_name(plot, "'--plot'")
    bad: list[str] = []  # maps that cannot be read: each named, the rest scored, and the run fails at the end
    read, generated = _read_maps(sorted(folder.glob("*.txt")), read_level, bad)
    if not generated and not bad:
        raise InputError(folder, "contains no .txt level maps")
    if reference is None:  # the default model's training corpus, as statistics shipped in its metadata
        shipped = get_model(None, task="level").metadata.get("reference")
        if shipped is None:
            raise InputError(folder, "the default model ships no reference statistics; pass --reference DIR")
        refs = Reference.from_json(shipped)
    else:
        ref_paths, maps = _read_maps(sorted(reference.glob("*.txt")), read_level, bad)
        read += ref_paths
        if not maps and not bad:
            raise InputError(reference, "contains no .txt level maps")
        refs = Reference.from_levels(maps, source=str(reference))
        if maps and generated and maps[0].shape[0] != generated[0].shape[0]:
            echo_line(f"warning: the maps in {folder} have {generated[0].shape[0]} rows and those in "
                      f"{reference} {maps[0].shape[0]}: no window can match, so novelty reads 1.0", err=True)
    for path in bad:
        echo_line(f"error: {path}", err=True)
    if not generated or (reference is not None and not maps):
        raise InputError(reference if generated and reference is not None else folder,
                         "contains no readable .txt level maps")
    report = run_eval(generated, refs)
    control = _control(folder, read, generated)
    if as_json:
        click.echo(json.dumps({**report.to_dict(), **control, "reference": refs.source, "kl_epsilon": KL_EPSILON,
                               "kl_direction": "KL(generated || reference)", "window_columns": WINDOW}, indent=2))
    else:
        described = (refs.source if reference is None else
                     f"{refs.levels} map{'s' * (refs.levels != 1)} in {refs.source}")
        click.echo(f"levels {report.levels} (reference: {described})")
        for key, value in report.to_dict().items():
            if key != "levels":
                shown = ", ".join(f"{k} {v}" for k, v in value.items()) if isinstance(value, dict) else value
                click.echo(f"{key:>25}  {shown}")
        for key, value in control.items():
            for name, per_bin in value.items():
                if isinstance(per_bin, dict):
                    shown = ", ".join(f"{label} {v['accuracy']} ({v['windows']} windows)"
                                      for label, v in per_bin.items())
                    click.echo(f"{key + ' ' + name:>25}  {shown}")
            click.echo(f"{key:>25}  mean over bins {value['mean']}, lowest {value['lowest']}, "
                       f"all windows {value['pooled']}")
    if plot is not None:
        unread = [*folder.glob("*.txt"), *(reference.glob("*.txt") if reference is not None else ())]
        save_image(plot_expressive_range(generated, refs), plot, overwrite=overwrite, inputs=[*read, *unread])
    if bad:
        click.echo(f"failed: {len(bad)} map{'s' if len(bad) != 1 else ''} left out", err=True)
        sys.exit(1)


def _read_maps(paths: list[Path], read_level: Callable[[Path], np.ndarray],
               bad: list[str]) -> tuple[list[Path], list[np.ndarray]]:
    """The maps of `paths` that can be read, and their paths; each one that cannot is added to
    `bad` as "PATH: why" and left out."""
    from genmedia.errors import InputError

    ok, levels = [], []
    for path in paths:
        try:
            levels.append(read_level(path))
        except InputError as exc:
            bad.append(str(exc))
            continue
        ok.append(path)
    # The maps of a folder are scored together (windows are compared across them), so they share one
    # height: the most common one (the tallest among equals); a map of another height is named, left out.
    heights = Counter(level.shape[0] for level in levels)
    if len(heights) > 1:
        height = max(heights, key=lambda rows: (heights[rows], rows))
        bad += [f"{path}: {level.shape[0]} rows, where the folder's other maps have {height} (the maps scored "
                "together must have one height)" for path, level in zip(ok, levels) if level.shape[0] != height]
        kept = [(path, level) for path, level in zip(ok, levels) if level.shape[0] == height]
        ok, levels = [path for path, _ in kept], [level for _, level in kept]
    return ok, levels


def _control(folder: Path, paths: list[Path], levels: list[np.ndarray]) -> dict[str, Any]:
    """Control accuracy over the levels that carry a LEVEL.json of the bins they were made with
    (`genmedia level sample` and `transform` write one): per attribute and bin, the share of whole
    16-column windows whose measured attribute lands in the bin asked for ("control"), and in the
    bin drawn as in the corpus or kept from the input ("control_others"). Empty if none carries one."""
    from genmedia.errors import InputError
    from genmedia.inputs import read_input_bytes
    from genmedia.levels import attributes

    asked, others = attributes.ControlTally.empty(), attributes.ControlTally.empty()
    for path, grid in zip(paths, levels):
        side = path.with_suffix(".json")
        if path.parent != folder or not side.is_file():
            continue
        try:
            bins, requested, rest = attributes.read_record(json.loads(read_input_bytes(side, limit=1 << 24,
                                                                                       what="attributes record")))
        except (ValueError, UnicodeDecodeError) as exc:
            echo_line(f"warning: {side}: {exc}; its level is left out of control accuracy", err=True)
            continue
        except InputError as exc:
            echo_line(f"warning: {exc}; its level is left out of control accuracy", err=True)
            continue
        asked.add(attributes.accuracy(bins, grid, requested))
        others.add(attributes.accuracy(bins, grid, rest))
    out = {}
    if asked.windows:
        out["control"] = asked.to_dict()
    if others.windows:
        out["control_others"] = others.to_dict()
    return out
