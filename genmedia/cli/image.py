"""`genmedia image ...`: batch-denoise photos and benchmark the denoiser."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from genmedia.cli.common import GenmediaGroup

MODEL_HELP = "Denoising model: a name from `genmedia models list` or a path to its .json."


class NoiseLevel(click.ParamType):
    """'auto' (None) or a sigma on the 0-255 scale."""

    name = "auto|SIGMA"

    def convert(self, value, param, ctx):
        if value is None or (isinstance(value, str) and value.lower() == "auto"):
            return None
        try:
            sigma = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is neither 'auto' nor a number", param, ctx)
        if not 0 <= sigma <= 255:
            self.fail(f"{sigma:g} is not between 0 and 255", param, ctx)
        return sigma


class SigmaList(click.ParamType):
    name = "SIGMAS"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            sigmas = tuple(float(v) for v in str(value).split(",") if v.strip())
        except ValueError:
            self.fail(f"{value!r} is not a comma-separated list of numbers", param, ctx)
        if not sigmas or any(not 0 <= s <= 255 for s in sigmas):
            self.fail(f"{value!r}: give noise levels between 0 and 255", param, ctx)
        return sigmas


@click.group(cls=GenmediaGroup)
def image() -> None:
    """Clean up photos with a denoising autoencoder (PNG, JPEG, TIFF, WebP, BMP)."""


@image.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the results; the input tree is mirrored under it.")
@click.option("--recursive", "-r", is_flag=True, help="Descend into sub-folders of folder inputs.")
@click.option("--noise-level", type=NoiseLevel(), default="auto", show_default=True,
              help="Noise sigma on the 0-255 scale, or 'auto' to estimate it per image.")
@click.option("--overwrite", is_flag=True, help="Replace outputs that exist.")
@click.option("--skip-existing", is_flag=True, help="Leave outputs that exist alone (count them as skipped).")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Files processed at once (the CPU cores are shared between them).")
@click.option("--tile", type=click.IntRange(64, 8192), default=1024, show_default=True,
              help="Tile size in pixels; memory use grows with its square.")
@click.option("--max-pixels", type=click.IntRange(1), default=None,
              help="Refuse images with more pixels than this (decompression-bomb guard; default 120 million).")
@click.option("--model", default=None, help=MODEL_HELP)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary; errors are still printed.")
def denoise(inputs, outdir, recursive, noise_level, overwrite, skip_existing, jobs, tile, max_pixels, model,
            quiet) -> None:
    """Denoise INPUTS (files, folders or globs) into OUTDIR, keeping names, formats and metadata."""
    from genmedia.image.batch import denoise_files, plan
    from genmedia.image.denoise import Denoiser
    from genmedia.image.io import DEFAULT_MAX_PIXELS
    from genmedia.registry import get_model

    if overwrite and skip_existing:
        raise click.UsageError("--overwrite and --skip-existing exclude each other")
    info = get_model(model, task="denoise")
    jobs_list, problems = plan(inputs, outdir, recursive=recursive)
    for problem in problems:
        click.echo(f"error: {problem.path}: {problem.why}", err=True)
    results = denoise_files(lambda threads: Denoiser(info, threads=threads), jobs_list, workers=jobs,
                            noise_level=noise_level, tile=tile, overwrite=overwrite, skip_existing=skip_existing,
                            max_pixels=max_pixels or DEFAULT_MAX_PIXELS)
    started = time.monotonic()
    counts = {"done": 0, "skipped": 0, "failed": 0}
    failed = [str(p.path) for p in problems]
    megapixels = 0.0
    show_bar = not quiet and sys.stderr.isatty() and len(jobs_list) > 0
    with click.progressbar(length=len(jobs_list), label="denoising", file=sys.stderr, show_pos=True,
                           show_eta=True) if show_bar else _NoBar() as bar:
        for result in results:
            counts[result.status] += 1
            megapixels += result.megapixels
            if result.status == "failed":
                failed.append(str(result.job.source))
                message = f"error: {result.job.source}: {result.why}"
                click.echo(("\n" if show_bar else "") + message, err=True)
            bar.update(1)
    elapsed = time.monotonic() - started
    if not quiet:
        rate = megapixels / elapsed if elapsed > 0 else 0.0
        click.echo(f"done {counts['done']}, skipped {counts['skipped']}, failed {len(failed)}; "
                   f"{megapixels:.1f} MP in {elapsed:.1f} s ({rate:.2f} MP/s) -> {outdir}", err=True)
    if failed:
        click.echo("failed: " + ", ".join(failed), err=True)
        sys.exit(1)
    if not jobs_list:
        click.echo("error: no image files to denoise", err=True)
        sys.exit(1)


class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int) -> None:
        pass


@image.command("eval")
@click.argument("clean_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--sigma", "sigmas", type=SigmaList(), default="15,25,50", show_default=True,
              help="Comma-separated noise levels (0-255 scale).")
@click.option("--quantised", is_flag=True,
              help="Clip and round the noisy images to 8 bits, as real files are (default: float noise).")
@click.option("--noise-level", type=NoiseLevel(), default="auto", show_default=True,
              help="Give the denoiser this sigma instead of estimating it (default: blind).")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True, help="Seed of the added noise.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N images (by name).")
@click.option("--model", default=None, help=MODEL_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print per-image scores and means as JSON.")
def eval_(clean_dir, sigmas, quantised, noise_level, seed, limit, model, as_json) -> None:
    """Add seeded Gaussian noise to the clean images in CLEAN_DIR, denoise blind, report PSNR and SSIM."""
    from genmedia.image.batch import find_images
    from genmedia.image.denoise import Denoiser
    from genmedia.image.evaluate import evaluate, score_dicts, summarise

    denoiser = Denoiser.load(model)
    found, problems = find_images(clean_dir)
    files = found[:limit]
    if problems or not files:
        raise click.ClickException(f"{clean_dir}: no readable images")

    def progress(score) -> None:
        if not as_json:
            click.echo(f"{score.image}  sigma {score.sigma:g}  estimated {score.estimated_sigma:.2f}  "
                       f"PSNR {score.psnr:.2f} dB  SSIM {score.ssim:.4f}")

    scores = evaluate(denoiser, files, sigmas, seed=seed, quantise=quantised, noise_level=noise_level,
                      progress=progress)
    table = summarise(scores)
    if as_json:
        click.echo(json.dumps({"model": denoiser.info.name, "folder": str(clean_dir), "quantised": quantised,
                               "blind": noise_level is None, "seed": seed, "mean": table,
                               "images": score_dicts(scores)}, indent=2))
        return
    click.echo(f"\n{denoiser.info.name} on {clean_dir} ({len(files)} images, "
               f"{'8-bit clipped' if quantised else 'float'} noise, "
               f"{'blind' if noise_level is None else f'sigma given as {noise_level:g}'})")
    click.echo("sigma  PSNR dB  SSIM    noisy PSNR  estimated sigma")
    for sigma, row in table.items():
        click.echo(f"{sigma:>5}  {row['psnr']:7.2f}  {row['ssim']:.4f}  {row['noisy_psnr']:10.2f}  "
                   f"{row['estimated_sigma']:15.2f}")
