"""`genmedia demo OUTDIR`: run every job once on the shipped models and example inputs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from genmedia.cli.common import overwrite_option

if TYPE_CHECKING:
    from genmedia.fileio import OutputBatch


@click.command()
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True)
@overwrite_option
def demo(outdir: Path, seed: int, overwrite: bool) -> None:
    """Write sample levels, a level morph, a melody morph, two jigs and a denoised photo into OUTDIR.

    All or nothing: if any part fails or the run is stopped, OUTDIR is left as it was.
    """
    from genmedia.fileio import output_set

    with output_set(outdir, overwrite=overwrite) as batch:
        # One file of each part first, so a finished demo stops before any model runs.
        batch.check(["levels/morph.png", "melodies/morph.wav", "images/before-after.png"])
        lines = [_levels(batch, seed=seed), _melodies(batch, seed=seed), _images(batch)]
    for line in lines:  # after publishing: only now are the files there
        click.echo(line)


def _levels(batch: OutputBatch, *, seed: int) -> str:
    from genmedia import api
    from genmedia.levels.output import add_level_morph, add_levels
    from genmedia.resources import resource_dir

    examples = resource_dir("assets") / "levels"
    sampled = api.sample_levels(count=4, width=120, seed=seed)
    morph = api.morph_levels(examples / "example-a.txt", examples / "example-b.txt", steps=5)
    written = add_levels(batch, [(f"level-{i:03d}", lv) for i, lv in enumerate(sampled)], folder="levels")
    written += add_level_morph(batch, morph, folder="levels", stem="morph")
    return (f"levels: 4 sampled (120 columns, seed {seed}) and a 5-step morph between example-a and "
            f"example-b: {len(written)} files in {batch.folder / 'levels'}")


def _melodies(batch: OutputBatch, *, seed: int) -> str:
    import numpy as np

    from genmedia import api
    from genmedia.melody.output import add_melodies, add_melody_morph
    from genmedia.resources import resource_dir

    examples = resource_dir("assets") / "melodies"
    morph = api.morph_melodies(examples / "example-a.mid", examples / "example-b.mid", steps=5)
    written = add_melody_morph(batch, np.stack([m.tokens for m in morph]), tempo=morph[0].tempo, program=0, wav=True,
                               stem="morph", folder="melodies", time_signature=morph[0].time_signature)
    jigs = api.sample_melodies(count=2, seed=seed, style="jig")
    written += add_melodies(batch, [(f"jig-{i:03d}", m.tokens) for i, m in enumerate(jigs)], tempo=120.0, program=0,
                            wav=True, folder="melodies", time_signatures=[m.time_signature for m in jigs])
    return (f"melodies: a 5-step morph between example-a and example-b, and 2 sampled jigs (seed {seed}; MIDI "
            f"and WAV): {len(written)} files in {batch.folder / 'melodies'}")


def _images(batch: OutputBatch) -> str:
    from genmedia import api
    from genmedia.image.evaluate import psnr
    from genmedia.image.io import read_photo, write_photo
    from genmedia.image.output import before_after
    from genmedia.resources import resource_dir

    examples = resource_dir("assets") / "images"
    noisy = read_photo(examples / "landscape-noisy.png")
    clean = read_photo(examples / "landscape-clean.png").pixels
    sigma = api.estimate_noise_level(noisy.pixels)
    result = api.denoise(noisy.pixels, noise_level=sigma)
    # Single-file writers publish their own temporary file onto the batch's, inside its hidden folder.
    batch.write("images/landscape-denoised.png", lambda tmp: write_photo(tmp, noisy, result))
    figure = before_after(noisy.pixels, result, box=(200, 150, 440, 300), scale=2)
    batch.write("images/before-after.png", figure.save_to)
    # The same drawing as a camera JPEG (sensor noise, demosaicing, tone curve, sharpening, 4:2:0 at
    # quality 85): the noise level estimator reads it as almost clean; the denoiser cleans it anyway.
    camera = read_photo(examples / "landscape-camera.jpg")
    camera_result = api.denoise(camera.pixels)
    batch.write("images/landscape-camera-denoised.jpg", lambda tmp: write_photo(tmp, camera, camera_result))
    camera_figure = before_after(camera.pixels, camera_result, box=(200, 150, 440, 300), scale=2)
    batch.write("images/before-after-camera.png", camera_figure.save_to)
    return (f"images: denoised landscape-noisy.png (estimated sigma {sigma:.1f}; PSNR against the clean drawing "
            f"{psnr(clean, noisy.pixels):.2f} -> {psnr(clean, result):.2f} dB) and the camera JPEG "
            f"landscape-camera.jpg ({psnr(clean, camera.pixels):.2f} -> {psnr(clean, camera_result):.2f} dB), "
            f"with before/after crops, in {batch.folder / 'images'}")
