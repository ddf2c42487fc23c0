"""`genmedia demo OUTDIR`: run every job once on the shipped models and example inputs."""

from __future__ import annotations

from pathlib import Path

import click

from genmedia.cli.common import overwrite_option


@click.command()
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True)
@overwrite_option
def demo(outdir: Path, seed: int, overwrite: bool) -> None:
    """Write sample levels and a level morph (text maps and PNGs) into OUTDIR."""
    from genmedia.fileio import check_writable
    from genmedia.levels.model import LevelModel, interpolate_levels, sample_levels
    from genmedia.levels.output import save_image, write_levels
    from genmedia.levels.render import render_strip
    from genmedia.levels.tiles import read_level
    from genmedia.resources import resource_dir

    vae = LevelModel.load()
    examples = resource_dir("assets") / "levels"
    maps = [read_level(examples / f"example-{x}.txt", tiles=vae.tiles) for x in "ab"]
    check_writable([outdir / "levels" / "morph.png"], overwrite=overwrite)
    sampled = sample_levels(vae, count=4, width=120, seed=seed).levels
    morph = interpolate_levels(vae, *maps, steps=5)
    written = write_levels(outdir / "levels", [(f"level-{i:03d}", lv) for i, lv in enumerate(sampled)],
                           overwrite=overwrite)
    written += write_levels(outdir / "levels", [(f"morph-{k:02d}", lv) for k, lv in enumerate(morph)],
                            overwrite=overwrite)
    written.append(save_image(render_strip(morph), outdir / "levels" / "morph.png", overwrite=overwrite))
    click.echo(f"levels: 4 sampled (120 columns, seed {seed}) and a 5-step morph between "
               f"example-a and example-b: {len(written)} files in {outdir / 'levels'}")
