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
    """Write sample levels, a level morph, a melody morph and a denoised photo into OUTDIR."""
    from genmedia.fileio import check_writable

    check_writable([outdir / "levels" / "morph.png", outdir / "melodies" / "morph.wav",
                    outdir / "images" / "before-after.png"], overwrite=overwrite)
    click.echo(_levels(outdir / "levels", seed=seed, overwrite=overwrite))
    click.echo(_melodies(outdir / "melodies", overwrite=overwrite))
    click.echo(_images(outdir / "images", overwrite=overwrite))


def _levels(folder: Path, *, seed: int, overwrite: bool) -> str:
    from genmedia.levels.model import LevelModel, interpolate_levels, sample_levels
    from genmedia.levels.output import write_level_morph, write_levels
    from genmedia.levels.tiles import read_level
    from genmedia.resources import resource_dir

    vae = LevelModel.load()
    examples = resource_dir("assets") / "levels"
    maps = [read_level(examples / f"example-{x}.txt", tiles=vae.tiles) for x in "ab"]
    sampled = sample_levels(vae, count=4, width=120, seed=seed).levels
    morph = interpolate_levels(vae, *maps, steps=5)
    written = write_levels(folder, [(f"level-{i:03d}", lv) for i, lv in enumerate(sampled)], overwrite=overwrite)
    written += write_level_morph(folder, morph, stem="morph", overwrite=overwrite)
    return (f"levels: 4 sampled (120 columns, seed {seed}) and a 5-step morph between example-a and "
            f"example-b: {len(written)} files in {folder}")


def _melodies(folder: Path, *, overwrite: bool) -> str:
    from genmedia.melody.midi import read_melody
    from genmedia.melody.model import MelodyModel, morph_melodies
    from genmedia.melody.output import write_melody_morph
    from genmedia.resources import resource_dir

    vae = MelodyModel.load()
    paths = [resource_dir("assets") / "melodies" / f"example-{x}.mid" for x in "ab"]
    melodies = [read_melody(p) for p in paths]
    morph = morph_melodies(vae, *melodies, steps=5, sources=tuple(paths))
    written = write_melody_morph(folder, morph, tempo=melodies[0].tempo, program=0, wav=True, stem="morph",
                                 overwrite=overwrite)
    return f"melodies: a 5-step morph between example-a and example-b (MIDI and WAV): {len(written)} files in {folder}"


def _images(folder: Path, *, overwrite: bool) -> str:
    from genmedia.image.denoise import Denoiser
    from genmedia.image.evaluate import psnr
    from genmedia.image.io import read_photo, write_photo
    from genmedia.image.output import before_after
    from genmedia.resources import resource_dir

    examples = resource_dir("assets") / "images"
    noisy = read_photo(examples / "landscape-noisy.png")
    clean = read_photo(examples / "landscape-clean.png").pixels
    denoiser = Denoiser.load()
    sigma = denoiser.estimate(noisy.pixels)
    result = denoiser.denoise(noisy.pixels, sigma=sigma)
    write_photo(folder / "landscape-denoised.png", noisy, result, overwrite=overwrite)
    before_after(noisy.pixels, result, box=(200, 150, 440, 300), scale=2).save_to(folder / "before-after.png",
                                                                                   overwrite=overwrite)
    return (f"images: denoised landscape-noisy.png (estimated sigma {sigma:.1f}; PSNR against the clean drawing "
            f"{psnr(clean, noisy.pixels):.2f} -> {psnr(clean, result):.2f} dB) and a before/after crop in {folder}")
