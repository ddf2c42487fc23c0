"""`genmedia level ...`: sample, morph, render, check and evaluate tile-based game levels."""

from __future__ import annotations

import json
from pathlib import Path

import click

from genmedia import limits
from genmedia.cli.common import (FiniteFloatRange, GenmediaGroup, Report, outdir_option, overwrite_option, resolve_seed,
                                 seed_option)

MODEL_HELP = "Level model: a name from `genmedia models list` or a path to its .json (default: smb-level-vae)."
level_path = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group(cls=GenmediaGroup)
def level() -> None:
    """Generate, morph, draw and check tile-based game levels (VGLC text maps)."""


@level.command()
@click.option("--model", default=None, help=MODEL_HELP)
@click.option("--count", "-n", type=click.IntRange(1, 10_000), default=10, show_default=True)
@click.option("--width", type=click.IntRange(16, limits.DEFAULT.level_columns), default=150, show_default=True,
              help="Columns per level.")
@seed_option
@click.option("--temperature", type=FiniteFloatRange(0.0, 3.0), default=1.0, show_default=True,
              help="Scale of the latent prior's noise: lower is closer to the training levels, higher is wilder.")
@click.option("--prior", type=click.Choice(["fitted", "normal"]), default="fitted", show_default=True,
              help="Latent prior: the model's fitted exemplar prior, or the plain N(0, I).")
@click.option("--no-check", is_flag=True, help="Keep levels that fail the playability check.")
@click.option("--max-attempts", type=click.IntRange(1, 10_000), default=50, show_default=True,
              help="Decodes per level (the first, then one per local repair) before giving up.")
@click.option("--no-png", is_flag=True, help="Write only the .txt maps.")
@outdir_option
@overwrite_option
def sample(model, count, width, seed, temperature, prior, no_check, max_attempts, no_png, outdir, overwrite) -> None:
    """Sample new playable levels: OUTDIR/level-000.txt and a PNG beside each."""
    from genmedia.levels.model import LevelModel, sample_levels
    from genmedia.levels.output import write_levels

    seed = resolve_seed(seed)
    vae = LevelModel.load(model)
    result = sample_levels(vae, count=count, width=width, seed=seed, temperature=temperature, prior=prior,
                           check=not no_check, max_attempts=max_attempts)
    write_levels(outdir, [(f"level-{i:03d}", lv) for i, lv in enumerate(result.levels)],
                 png=not no_png, overwrite=overwrite)
    extra = sum(a - 1 for a in result.attempts)
    note = f"; {extra} unplayable stretches were redrawn" if extra else ""
    click.echo(f"wrote {count} level{'s' * (count != 1)} of {width} columns to {outdir}{note}", err=True)


@level.command()
@click.argument("a", type=level_path)
@click.argument("b", type=level_path)
@click.option("--model", default=None, help=MODEL_HELP)
@click.option("--steps", type=click.IntRange(2, 200), default=7, show_default=True)
@click.option("--no-check", is_flag=True, help="Keep steps that fail the playability check, unrepaired.")
@outdir_option
@overwrite_option
def interpolate(a, b, model, steps, no_check, outdir, overwrite) -> None:
    """Morph level A into level B: OUTDIR/step-00.txt ... (with PNGs) and morph.png.

    Both maps are encoded to their latent means and the path between them is decoded
    (deterministic: no seed is involved). Maps of different widths also morph in width:
    step k is the linear blend of the two widths. Every step is checked, and one that
    Mario cannot finish is repaired locally, as `sample` does; the repaired steps are named.
    """
    from genmedia.levels.model import LevelModel, interpolate_levels
    from genmedia.levels.output import write_level_morph
    from genmedia.levels.tiles import read_level

    vae = LevelModel.load(model)
    maps = [read_level(p, tiles=vae.tiles) for p in (a, b)]
    morph = interpolate_levels(vae, *maps, steps=steps, sources=(a, b), check=not no_check)
    write_level_morph(outdir, morph, overwrite=overwrite)
    many = len(morph.repaired) > 1
    fixed = (f"; step{'s' * many} {', '.join(map(str, morph.repaired))} failed the playability check and "
             f"{'were' if many else 'was'} repaired locally") if morph.repaired else ""
    click.echo(f"wrote {steps} steps and morph.png to {outdir}{fixed}", err=True)


@level.command()
@click.argument("level_file", metavar="LEVEL.txt", type=level_path)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PNG to write.")
@click.option("--tile-size", type=click.IntRange(1, 64), default=16, show_default=True, help="Pixels per tile.")
@overwrite_option
def render(level_file, output, tile_size, overwrite) -> None:
    """Draw a level map as a PNG with genmedia's own tile art."""
    from genmedia.levels.output import save_image
    from genmedia.levels.render import render_level
    from genmedia.levels.tiles import read_level

    save_image(render_level(read_level(level_file), tile_size=tile_size), output, overwrite=overwrite)
    click.echo(f"wrote {output}", err=True)


@level.command()
@click.argument("levels", metavar="LEVEL.txt...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--legend", type=level_path, default=None, help="VGLC legend JSON saying which tiles are solid.")
@click.option("--thorough", is_flag=True,
              help="Where the fast search fails, search frame by frame over every input (slower, strict answer).")
def check(levels, legend, thorough) -> None:
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
    click.echo(f"{report.done} of {len(levels)} levels playable{unread_note}", err=True)
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
        click.echo(f"warning: {path}: unknown tiles {', '.join(map(repr, unknown))}, not in {where}; "
                   "they are checked as open space", err=True)
    result = check_playable(grid, solid=solid, thorough=thorough)
    for problem in find_structure_errors(grid)[:3]:
        click.echo(f"warning: {path}: {problem}", err=True)
    click.echo(f"{path}: {result.describe()}")
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
def evaluate(folder, reference, as_json, plot, overwrite) -> None:
    """Score a folder of level maps: playability, tile-pattern KL, novelty, diversity."""
    from genmedia.errors import InputError
    from genmedia.levels.metrics import KL_EPSILON, WINDOW, Reference, evaluate as run_eval
    from genmedia.levels.output import save_image
    from genmedia.levels.render import plot_expressive_range
    from genmedia.levels.tiles import read_level
    from genmedia.registry import get_model

    generated = [read_level(p) for p in sorted(folder.glob("*.txt"))]
    if not generated:
        raise InputError(folder, "contains no .txt level maps")
    if reference is None:  # the default model's training corpus, as statistics shipped in its metadata
        shipped = get_model(None, task="level").metadata.get("reference")
        if shipped is None:
            raise InputError(folder, "the default model ships no reference statistics; pass --reference DIR")
        refs = Reference.from_json(shipped)
    else:
        maps = [read_level(p) for p in sorted(reference.glob("*.txt"))]
        if not maps:
            raise InputError(reference, "contains no .txt level maps")
        refs = Reference.from_levels(maps, source=str(reference))
    report = run_eval(generated, refs)
    if as_json:
        click.echo(json.dumps({**report.to_dict(), "reference": refs.source, "kl_epsilon": KL_EPSILON,
                               "kl_direction": "KL(generated || reference)", "window_columns": WINDOW}, indent=2))
    else:
        click.echo(f"levels {report.levels} (reference: {refs.levels} maps, {refs.source})")
        for key, value in report.to_dict().items():
            if key != "levels":
                shown = ", ".join(f"{k} {v}" for k, v in value.items()) if isinstance(value, dict) else value
                click.echo(f"{key:>25}  {shown}")
    if plot is not None:
        save_image(plot_expressive_range(generated, refs), plot, overwrite=overwrite)
