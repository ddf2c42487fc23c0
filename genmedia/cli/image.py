"""`genmedia image ...`: batch-denoise photos and benchmark the denoiser."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click
from click.core import ParameterSource

from genmedia.cli.common import GenmediaGroup, Report, echo_line, one_line

if TYPE_CHECKING:  # numpy and PIL come with these; `genmedia --help` does without
    from click._termui_impl import ProgressBar

    from genmedia.image.batch import Job, Problem, Result
    from genmedia.image.denoise import Denoiser
    from genmedia.image.evaluate import PairScore, Score

MODEL_HELP = "Denoising model: a name from `genmedia models list` or a path to its .json."


class NoiseLevel(click.ParamType):  # type: ignore[type-arg]  # generic only from click 8.4; we take 8.1
    """'auto' (None) or a sigma on the 0-255 scale."""

    name = "auto|SIGMA"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float | None:
        if value is None or (isinstance(value, str) and value.lower() == "auto"):
            return None
        try:
            sigma = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is neither 'auto' nor a number", param, ctx)
        if not 0 <= sigma <= 255:
            self.fail(f"{sigma:g} is not between 0 and 255", param, ctx)
        return sigma


class SigmaList(click.ParamType):  # type: ignore[type-arg]  # as NoiseLevel
    """Comma-separated noise levels on the 0-255 scale, as a tuple of floats."""

    name = "SIGMAS"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[float, ...]:
        if isinstance(value, tuple):
            return value
        try:
            sigmas = tuple(float(v) for v in str(value).split(","))  # an empty item ('25,,50') is an error too
        except ValueError:
            self.fail(f"{value!r} is not a comma-separated list of numbers", param, ctx)
        if not sigmas or any(not 0 <= s <= 255 for s in sigmas):  # (nan fails this too)
            self.fail(f"{value!r}: give noise levels between 0 and 255", param, ctx)
        return sigmas


def _ray_address(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--ray's value: 'auto' (the flag alone), 'local', or a cluster address with a port; anything
    else is most likely an input that followed the flag."""
    if value is None or value in ("auto", "local") or ":" in value:
        return value
    raise click.BadParameter(f"{value!r} is not a Ray address (HOST:PORT, ray://HOST:PORT or auto); to join or "
                             "start a cluster without naming one, put --ray after the inputs", ctx, param)


@click.group(cls=GenmediaGroup)
def image() -> None:
    """Clean up photos with a denoising autoencoder (PNG, JPEG, TIFF, WebP, BMP)."""


@image.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the results; the input tree is mirrored under it.")
@click.option("--recursive", "-r", is_flag=True, help="Descend into sub-folders of folder inputs.")
@click.option("--noise-level", type=NoiseLevel(), default="auto", show_default=True,
              help="Denoising strength: 'auto' reads each image's noise itself; a number tells the denoiser the "
                   "image has white noise of that sigma (0-255 scale), so higher removes more.")
@click.option("--overwrite", is_flag=True, help="Replace outputs that exist.")
@click.option("--skip-existing", is_flag=True, help="Leave outputs that exist alone (count them as skipped).")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Files processed at once (the CPU cores are shared between them).")
@click.option("--tile", type=click.IntRange(64, 8192), default=1024, show_default=True,
              help="Tile size in pixels; memory use grows with its square.")
@click.option("--max-pixels", type=click.IntRange(1), default=None,
              help="Refuse images with more pixels than this (decompression-bomb guard; default 120 million, "
                   "or GENMEDIA_MAX_PIXELS).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a JSON report: one entry per input with what was estimated and done.")
@click.option("--model", default=None, help=MODEL_HELP)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar, per-image lines or summary; errors are still "
                                                  "printed.")
@click.option("--ray", "ray_address", is_flag=False, flag_value="auto", default=None, metavar="[ADDRESS]",
              callback=_ray_address,
              help="Run the batch on a Ray cluster (pip install 'genmedia[ray]'): alone, join the cluster in "
                   "RAY_ADDRESS or one started on this machine, else start a local one; with HOST:PORT, join "
                   "that one. One actor per cluster CPU (at most --jobs if given). Put it after the inputs.")
def denoise(inputs: tuple[str, ...], outdir: Path, recursive: bool, noise_level: float | None, overwrite: bool,
            skip_existing: bool, jobs: int, tile: int, max_pixels: int | None, report_path: Path | None,
            model: str | None, quiet: bool, ray_address: str | None) -> None:
    """Denoise INPUTS (files, folders or globs) into OUTDIR, keeping names, formats and metadata."""
    from genmedia.fileio import OutputError, check_writable
    from genmedia.image.batch import denoise_files, pixels_of, plan
    from genmedia.image.denoise import Denoiser
    from genmedia.registry import get_model

    if overwrite and skip_existing:
        raise click.UsageError("--overwrite and --skip-existing exclude each other")
    if ray_address is not None:
        from genmedia.image.ray_batch import require_ray

        require_ray()  # before any work: one line with the install command
    jobs_list, problems = plan(inputs, outdir, recursive=recursive)
    if not recursive and not quiet:
        _note_subfolders(inputs)
    if report_path is not None:  # before any work; never onto an input (nor a hard link to one)
        check_writable([report_path], overwrite=overwrite,
                       inputs=[*inputs, *(job.source for job in jobs_list), *(p.path for p in problems)])
        clash = next((job for job in jobs_list if os.path.realpath(job.target) == os.path.realpath(report_path)),
                     None)
        if clash is not None:
            raise OutputError(report_path, f"is where {clash.source} is denoised to; a report never replaces "
                                           "an output (choose another report name)")
    info = get_model(model, task="denoise")
    show_bar = not quiet and sys.stderr.isatty() and len(jobs_list) > 0
    work = _Work({job: max(1, pixels_of(job.source)) for job in jobs_list} if show_bar else {}, show_bar)
    report = Report(echo=work.echo)
    for problem in problems:
        report.fail(problem.path, problem.why)
    options = dict(noise_level=noise_level, tile=tile, overwrite=overwrite, skip_existing=skip_existing,
                   max_pixels=max_pixels)
    progress = work.tiles if show_bar else None
    with contextlib.ExitStack() as cluster:
        if ray_address is not None and jobs_list:
            from genmedia.image.ray_batch import actor_count, denoise_files_ray, ray_cluster

            if not quiet:
                click.echo(f"ray: connecting ({ray_address}; a local cluster takes a few seconds to start)", err=True)
            cpus = cluster.enter_context(ray_cluster(ray_address))
            given = click.get_current_context().get_parameter_source("jobs") != ParameterSource.DEFAULT
            if not quiet:
                actors = actor_count(cpus, jobs if given else None, len(jobs_list))
                click.echo(f"ray: {cpus} CPU{'s' * (cpus != 1)} in the cluster, {actors} denoiser "
                           f"actor{'s' * (actors != 1)}", err=True)
            results = denoise_files_ray(info, jobs_list, model=model, workers=jobs if given else None,
                                        progress=progress, **options)
        else:
            results = denoise_files(lambda threads: Denoiser(info, threads=threads), jobs_list, workers=jobs,
                                    progress=progress, **options)
        cluster.enter_context(contextlib.closing(results))  # ended (files running finish) before the cluster goes
        entries, clean, elapsed = _run_batch(results, problems, report, work, quiet)
    megapixels = sum(e.get("megapixels", 0.0) for e in entries)
    if report_path is not None:
        from genmedia.fileio import write_text_atomic

        write_text_atomic(report_path, json.dumps({"outdir": str(outdir), "model": info.name, "files": entries},
                                                  indent=2) + "\n", overwrite=overwrite)
    if not quiet:
        rate = megapixels / elapsed if elapsed > 0 else 0.0
        counts = report.counts(done_note=f"{clean} already clean" if clean else "")
        click.echo(f"{counts}; {megapixels:.1f} MP in {elapsed:.1f} s ({rate:.2f} MP/s) -> {outdir}", err=True)
    report.finish()
    if not jobs_list:
        click.echo("error: no image files to denoise", err=True)
        sys.exit(1)


def _note_subfolders(inputs: tuple[str, ...]) -> None:
    """One stderr line for each folder given whose sub-folders a run without --recursive leaves out."""
    for given in inputs:
        try:
            with os.scandir(given) as entries:
                subfolders = sum(1 for e in entries if not e.name.startswith(".") and e.is_dir(follow_symlinks=False))
        except OSError:  # not a folder (a file or a glob), or unreadable: plan() names what matters
            continue
        if subfolders:
            echo_line(f"note: {given} has {subfolders} sub-folder{'s' * (subfolders != 1)}, not searched "
                                "(--recursive searches them too)", err=True)


def _run_batch(results: Iterable[Result], problems: list[Problem], report: Report, work: _Work,
               quiet: bool) -> tuple[list[dict[str, Any]], int, float]:
    """Go through the batch's results as they come: one line per file into `report`, the progress
    bar; return the `--report` entries, how many files were already clean and the seconds it took."""
    started = time.monotonic()
    entries: list[dict[str, Any]] = [{"input": str(p.path), "status": "failed", "why": p.why} for p in problems]
    clean = 0
    with work:
        for result in results:
            work.finished(result.job)
            entries.append(result.as_dict())
            if result.status == "failed":
                report.fail(result.job.source, result.why)
            elif result.status == "skipped":
                report.skipped += 1
            else:
                report.done += 1
                clean += result.clean
                if not quiet:
                    work.echo(_describe(result))
    return entries, clean, time.monotonic() - started


def _describe(result: Result) -> str:
    """One line for a denoised file: the noise level it was given and how much it changed."""
    level = f"{'estimated' if result.estimated else 'given'} noise level {result.sigma:.1f}"
    if result.reading is not None and result.reading.method == "second look":
        shuffle = "; coarse grain: pixel-shuffle pass" if result.reading.coarse else ""
        level += f" (second look; patch estimate {result.reading.patch:.1f}{shuffle})"
    if result.clean:
        return f"{result.job.source}: already clean ({level}; changed by {result.change:.2f} RMS)"
    return f"{result.job.source}: {level}; changed by {result.change:.2f} RMS -> {result.job.target}"


class _Work:
    """The progress bar, by pixels: tiles move it as they are done (from worker threads), and a
    finished file tops it up to the pixels its header promised (skipped and failed files too)."""

    def __init__(self, planned: dict[Job, int], show: bool) -> None:
        import threading

        self.planned, self.show = planned, show
        self.done: dict[Job, int] = {}
        self.lock = threading.Lock()
        self.bar: ProgressBar[int] | None = None

    def __enter__(self) -> _Work:
        if self.show:
            total = sum(self.planned.values())
            self.bar = click.progressbar(length=total, label="denoising", file=sys.stderr, show_eta=True,
                                         show_percent=True, item_show_func=lambda _: None).__enter__()
        return self

    def __exit__(self, *exc: Any) -> Literal[False]:
        if self.bar is not None:
            self.bar.__exit__(*exc)
            self.bar = None  # lines after the batch need no newline first
        return False

    def tiles(self, job: Job, pixels: int) -> None:
        with self.lock:
            step = min(pixels, self.planned.get(job, 0) - self.done.get(job, 0))
            self.done[job] = self.done.get(job, 0) + step
            if self.bar is not None and step > 0:
                self.bar.update(step)

    def finished(self, job: Job) -> None:
        self.tiles(job, self.planned.get(job, 0))

    def echo(self, line: str) -> None:
        with self.lock:
            click.echo(("\n" if self.bar is not None else "") + one_line(line), err=True)


@image.command("eval")
@click.argument("clean_dir", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--pairs", nargs=2, type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              metavar="NOISY_DIR CLEAN_DIR",
              help="Score real noisy images against clean references matched by file name (no noise is added).")
@click.option("--sigma", "sigmas", type=SigmaList(), default="15,25,50", show_default=True,
              help="Comma-separated noise levels (0-255 scale).")
@click.option("--quantised", is_flag=True,
              help="Clip and round the noisy images to 8 bits, as real files are (default: float noise).")
@click.option("--noise-level", type=NoiseLevel(), default="auto", show_default=True,
              help="Give the denoiser this sigma instead of estimating it ('auto': blind).")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
              help="Seed of the added noise.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N images (by name).")
@click.option("--model", default=None, help=MODEL_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print per-image scores and means as JSON.")
def eval_(clean_dir: Path | None, pairs: tuple[Path, Path] | None, sigmas: tuple[float, ...], quantised: bool,
          noise_level: float | None, seed: int, limit: int | None, model: str | None, as_json: bool) -> None:
    """Add seeded Gaussian noise to the clean images in CLEAN_DIR, denoise blind, report PSNR and SSIM;
    or, with --pairs NOISY_DIR CLEAN_DIR, score real noisy images against their clean references."""
    from genmedia.image.batch import find_images
    from genmedia.image.denoise import Denoiser
    from genmedia.image.evaluate import evaluate, score_dicts, summarise

    if (clean_dir is None) == (pairs is None):
        raise click.UsageError("give either CLEAN_DIR or --pairs NOISY_DIR CLEAN_DIR")
    if pairs is not None:
        ctx = click.get_current_context()
        given = [f"--{name}" for name in ("sigma", "quantised", "seed")
                 if ctx.get_parameter_source("sigmas" if name == "sigma" else name) != ParameterSource.DEFAULT]
        if given:
            raise click.UsageError(f"{', '.join(given)}: --pairs scores real noisy images and adds no noise, so "
                                   "--sigma, --quantised and --seed do not apply to it")
    denoiser = Denoiser.load(model)
    if pairs is not None:
        _eval_pairs(denoiser, *pairs, noise_level=noise_level, limit=limit, as_json=as_json)
        return
    assert clean_dir is not None  # one of the two was given (checked above)
    found, problems = find_images(clean_dir)
    files = found[:limit]
    report = Report()
    for problem in problems:  # an unreadable sub-folder: named, and the run fails at the end
        report.fail(problem.path, problem.why)
    if not files:
        raise click.ClickException(f"{clean_dir}: no readable images")
    bad: list[dict[str, str]] = [{"image": str(p.path), "why": p.why} for p in problems]

    def failed(path: Path, why: str) -> None:  # `why` names the file: "PATH: why"
        report.error(path, why)
        bad.append({"image": str(path), "why": why})

    def progress(score: Score) -> None:
        if not as_json:
            click.echo(f"{score.image}  sigma {score.sigma:g}  estimated {score.estimated_sigma:.2f}  "
                       f"PSNR {score.psnr:.2f} dB  SSIM {score.ssim:.4f}")

    scores = evaluate(denoiser, files, sigmas, seed=seed, quantise=quantised, noise_level=noise_level,
                      progress=progress, failed=failed)
    if not scores:
        raise click.ClickException(f"none of the {len(files)} images in {clean_dir} could be scored")
    table = summarise(scores)
    if as_json:
        click.echo(_json({"model": denoiser.info.name, "folder": str(clean_dir), "quantised": quantised,
                          "blind": noise_level is None, "seed": seed, "mean": table, "images": score_dicts(scores),
                          "failed": bad}))
    else:
        scored = len(files) - (len(bad) - len(problems))
        click.echo(f"\n{denoiser.info.name} on {clean_dir} ({scored} images, "
                   f"{'8-bit clipped' if quantised else 'float'} noise, "
                   f"{'blind' if noise_level is None else f'sigma given as {noise_level:g}'})")
        click.echo("sigma  PSNR dB  SSIM    noisy PSNR  estimated sigma")
        for sigma, row in table.items():
            click.echo(f"{sigma:>5}  {row['psnr']:7.2f}  {row['ssim']:.4f}  {row['noisy_psnr']:10.2f}  "
                       f"{row['estimated_sigma']:15.2f}")
    report.finish()


def _eval_pairs(denoiser: Denoiser, noisy_dir: Path, clean_dir: Path, *, noise_level: float | None, limit: int | None,
                as_json: bool) -> None:
    """`image eval --pairs`: per-image and mean PSNR/SSIM of the denoised real images, and of the inputs."""
    from genmedia.image.batch import find_images
    from genmedia.image.evaluate import evaluate_pairs, match_pairs, score_dicts, summarise_pairs

    noisy_files, noisy_problems = find_images(noisy_dir)
    clean_files, clean_problems = find_images(clean_dir)
    report = Report()
    for problem in noisy_problems + clean_problems:
        report.fail(problem.path, problem.why)
    matched, unmatched = match_pairs(noisy_files, clean_files)
    for path in unmatched:
        echo_line(f"warning: {path}: no clean image of that name in {clean_dir}; left out", err=True)
    matched = matched[:limit]
    if not matched:
        raise click.ClickException(f"{noisy_dir}: no noisy image has a clean partner in {clean_dir}")

    def progress(score: PairScore) -> None:
        if not as_json:
            click.echo(f"{score.image}  estimated {score.estimated_sigma:.2f}  PSNR {score.noisy_psnr:.2f} -> "
                       f"{score.psnr:.2f} dB  SSIM {score.noisy_ssim:.4f} -> {score.ssim:.4f}")

    bad: list[dict[str, str]] = []

    def failed(noisy: Path, clean: Path, why: str) -> None:  # the line names both files; the summary, the noisy one
        report.error(noisy, f"pair {noisy} and {clean}: {why}")
        bad.append({"noisy": str(noisy), "clean": str(clean), "why": why})

    scores = evaluate_pairs(denoiser, matched, noise_level=noise_level, progress=progress, failed=failed)
    if not scores:
        raise click.ClickException(f"none of the {len(matched)} pairs could be scored")
    mean = summarise_pairs(scores)
    if as_json:
        click.echo(_json({"model": denoiser.info.name, "noisy": str(noisy_dir), "clean": str(clean_dir),
                          "blind": noise_level is None, "mean": mean, "images": score_dicts(scores), "failed": bad}))
    else:
        click.echo(f"\n{denoiser.info.name} on {len(scores)} pairs of {noisy_dir} and {clean_dir} "
                   f"({'blind' if noise_level is None else f'sigma given as {noise_level:g}'})")
        click.echo(f"PSNR {mean['noisy_psnr']:.2f} -> {mean['psnr']:.2f} dB  SSIM {mean['noisy_ssim']:.4f} -> "
                   f"{mean['ssim']:.4f}  estimated sigma {mean['estimated_sigma']:.2f}")
    report.finish()


def _json(report: dict[str, Any]) -> str:
    """`report` as indented, strictly valid JSON: an infinite or undefined number (the PSNR of an
    identical pair, and a mean over it) is written as null."""
    def finite(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {key: finite(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [finite(item) for item in value]
        return value

    return json.dumps(finite(report), indent=2, allow_nan=False)
