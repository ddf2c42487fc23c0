"""Denoise many files: find the inputs, mirror them under an output folder, run, account for each file."""

from __future__ import annotations

import glob
import os
import time
import warnings
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from genmedia.errors import GenmediaError, InputError, ModelError
from genmedia.fileio import input_identities
from genmedia.image.denoise import DEFAULT_TILE, Denoiser, NoiseReading, peak_of
from genmedia.image.io import SUFFIXES, read_photo, write_photo
from genmedia.inputs import open_input


@dataclass(frozen=True)
class Job:
    """One input file and where its output goes."""

    source: Path
    target: Path


@dataclass(frozen=True)
class Problem:
    """An input that could not even be listed (a missing path, an unreadable folder)."""

    path: Path
    why: str


CLEAN_CHANGE = 1.0  # an image the denoiser changes by less than this RMS (0-255 scale; invisible) is reported as clean


@dataclass
class Result:
    """What happened to one file: 'done', 'skipped' (output exists) or 'failed' (with the reason).

    For a done file: `sigma` is the noise level the denoiser was given (0-255 scale), `estimated`
    whether it was estimated (else the user's; `reading` then says how), `change` the RMS difference between output and
    input on the 0-255 scale, and `clean` whether the image was judged already clean (the
    denoiser changed it by under `CLEAN_CHANGE`; it is still written).
    """

    job: Job
    status: Literal["done", "skipped", "failed"]
    why: str = ""
    megapixels: float = 0.0
    sigma: float | None = None
    seconds: float = 0.0
    estimated: bool = False
    change: float | None = None
    reading: NoiseReading | None = None

    @property
    def clean(self) -> bool:
        return self.change is not None and self.change < CLEAN_CHANGE

    def as_dict(self) -> dict[str, Any]:
        """One entry of `--report`: paths, outcome and what was estimated and done."""
        entry: dict[str, Any] = {"input": str(self.job.source), "output": str(self.job.target), "status": self.status}
        if self.why:
            entry["why"] = self.why
        if self.status == "done":
            entry.update({"megapixels": round(self.megapixels, 3), "noise_level": round(float(self.sigma or 0), 2),
                          "noise_level_from": "estimated" if self.estimated else "--noise-level",
                          "rms_change": round(float(self.change or 0), 3), "already_clean": self.clean,
                          "seconds": round(self.seconds, 3)})
            if self.reading is not None:
                look = self.reading.second_look
                grain = self.reading.grain
                entry["noise_estimate"] = {"patch": round(self.reading.patch, 2),
                                           "second_look": None if look is None else round(look, 2),
                                           "from": self.reading.method,
                                           "grain": None if grain is None else round(grain, 3),
                                           "pixel_shuffle_pass": self.reading.coarse}
        return entry


def _real(path: Path) -> Path:
    """`path` with symlinks resolved as far as they go (a symlink loop stays as it is, instead of
    raising as Path.resolve does)."""
    return Path(os.path.realpath(path))


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES and not path.name.startswith(".")


def _walk(folder: Path, recursive: bool, problems: list[Problem], skip: Path | None = None) -> Iterator[Path]:
    """Image files in `folder` (and below, if `recursive`), by name; symlinked folders and the
    output folder `skip` are not entered, so a run never reads its own results."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        problems.append(Problem(folder, f"cannot read folder: {exc.strerror or exc}"))
        return
    for entry in entries:
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            is_dir = False
        if is_dir:
            if recursive and not entry.name.startswith(".") and (skip is None or _real(path) != skip):
                yield from _walk(path, recursive, problems, skip)
        elif _is_image_name(path):
            yield path


def find_images(folder: Path, *, recursive: bool = False) -> tuple[list[Path], list[Problem]]:
    """The image files in `folder` by name, and the sub-folders that could not be read."""
    problems: list[Problem] = []
    return list(_walk(Path(folder), recursive, problems)), problems


def _glob_root(pattern: str) -> Path:
    """The folder part of a glob before its first wildcard."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def plan(inputs: Iterable[str | Path], outdir: Path, *, recursive: bool = False) -> tuple[list[Job], list[Problem]]:
    """Jobs for every input file (folders mirrored under `outdir`), and the inputs that could not be listed.

    A file keeps its name; a folder's files keep their path relative to the folder; a glob's
    matches keep their path relative to the glob's fixed folder part. Two inputs that would
    write the same output, or an output that is the input itself, are problems, not jobs.
    """
    jobs: list[Job] = []
    problems: list[Problem] = []
    outdir = Path(outdir)
    skip = _real(outdir)
    for item in inputs:
        text = str(item)
        path = Path(text)
        if path.is_dir():
            jobs += [Job(p, outdir / p.relative_to(path)) for p in _walk(path, recursive, problems, skip)]
        elif path.exists():
            jobs.append(Job(path, outdir / path.name))
        elif glob.has_magic(text):
            root = _glob_root(text)
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True))
            # as in a folder: anything named like an image that is not a folder is a job, so that
            # a symlink loop, a broken link or a FIFO is named as a bad file, not dropped unseen
            files = [p for p in matches if not p.is_dir() and _is_image_name(p)]
            for folder in (p for p in matches if p.is_dir()):
                files += list(_walk(folder, recursive, problems, skip))
            if not files:
                problems.append(Problem(path, "no image files match"))
            jobs += [Job(p, outdir / p.relative_to(root)) for p in files]
        else:
            problems.append(Problem(path, "no such file or folder"))
    unique: list[Job] = []
    seen: dict[Path, Path] = {}
    sources = input_identities(job.source for job in jobs)
    for job in jobs:
        key = _real(job.target)
        if key == _real(job.source):
            problems.append(Problem(job.source, "the output would replace the input; choose another output folder"))
        elif input_identities([job.target]) & sources:  # a hard link to an input: same file, other name
            problems.append(Problem(job.source, f"its output {job.target} is the same file as an input "
                                                "(a hard link); an output never replaces an input"))
        elif key in seen:
            if seen[key] != _real(job.source):
                problems.append(Problem(job.source, f"its output {job.target} is already the output of {seen[key]}"))
        else:
            seen[key] = _real(job.source)
            unique.append(job)
    return unique, problems


def denoise_file(denoiser: Denoiser, job: Job, *, noise_level: float | None = None, tile: int = DEFAULT_TILE,
                 overwrite: bool = False, skip_existing: bool = False, max_pixels: int | None = None,
                 progress: Callable[[int], None] | None = None) -> Result:
    """Denoise one file into its target; every failure becomes a 'failed' result, never an exception.

    `progress(pixels)` is called as tiles are done (see `Denoiser.denoise`).
    """
    started = time.monotonic()
    if job.target.exists() and not overwrite:
        if skip_existing:
            return Result(job, "skipped", "output exists")
        return Result(job, "failed", f"output {job.target} already exists (use --overwrite or --skip-existing)")
    try:
        photo = read_photo(job.source, max_pixels=max_pixels)
        reading = denoiser.read_noise(photo.pixels) if noise_level is None else None
        sigma = noise_level if reading is None else reading.level
        clean = denoiser.denoise(photo.pixels, sigma=noise_level, reading=reading, tile=tile, progress=progress)
        change = rms_change(photo.pixels, clean)
        write_photo(job.target, photo, clean, overwrite=overwrite)
    except InputError as exc:
        return Result(job, "failed", exc.why)
    except ModelError:  # the model's failure, not this file's: one line naming the model, for the whole run
        raise
    except GenmediaError as exc:
        return Result(job, "failed", str(exc))
    except MemoryError:
        return Result(job, "failed", "out of memory (try a smaller --tile)")
    except OSError as exc:  # writing: disk full, permissions
        return Result(job, "failed", f"cannot write {job.target}: {exc.strerror or exc}")
    return Result(job, "done", megapixels=photo.megapixels, sigma=sigma, seconds=time.monotonic() - started,
                  estimated=noise_level is None, change=change, reading=reading)


RMS_BLOCK = 1 << 20  # values per block of `rms_change`: its float copies stay a few MB for any image size


def rms_change(before: np.ndarray, after: np.ndarray) -> float:
    """Root-mean-square difference of two images of one dtype, on the 0-255 scale.

    Summed over blocks of rows, so that a 40-MP photo needs a few MB beside the two images
    (whole-image float copies took 1.3 GB more at the peak than the denoising itself)."""
    scale = 255.0 / peak_of(before.dtype)
    rows = max(1, RMS_BLOCK // max(1, before[0].size))
    total = 0.0
    for y in range(0, before.shape[0], rows):
        diff = before[y:y + rows].astype(np.float64) - after[y:y + rows]
        total += float(np.vdot(diff.ravel(), diff.ravel()))
    return float(np.sqrt(total / max(1, before.size))) * scale


def pixels_of(path: Path) -> int:
    """Width x height from the file's header (0 if it cannot be read): the batch's unit of work.

    The file is opened with `open_input`, so a FIFO or device named like an image is passed over
    at once (0) instead of blocking; the batch itself then names it as a bad file.
    """
    try:
        with open_input(path, what="photo") as handle, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's size and metadata warnings; the read checks both
            with Image.open(handle) as im:
                return int(im.width) * int(im.height)
    except Exception:  # Pillow raises many kinds for bad headers; the read itself reports them
        return 0


def denoise_files(denoiser_factory: Callable[[int], Denoiser], jobs: list[Job], *, workers: int = 1,
                  progress: Callable[[Job, int], None] | None = None, **options: Any) -> Generator[Result, None, None]:
    """Denoise `jobs` with `workers` files at a time, yielding results in input order as they finish.

    `denoiser_factory(threads)` gives a denoiser whose sessions use `threads` threads; the
    cores are shared out between the workers. `progress(job, pixels)` is called as tiles are
    done, from the worker threads (so it must be thread-safe).
    """
    workers = max(1, min(workers, len(jobs) or 1))
    threads = max(1, (os.cpu_count() or 1) // workers)
    denoiser = denoiser_factory(threads)

    def run(job: Job) -> Result:
        report = None if progress is None else partial(progress, job)
        return denoise_file(denoiser, job, progress=report, **options)

    if workers == 1:
        yield from map(run, jobs)
        return
    pool = ThreadPoolExecutor(workers)
    try:
        yield from pool.map(run, jobs)
    finally:  # on Ctrl-C or SIGTERM, drop the queued files instead of working through them first
        pool.shutdown(wait=True, cancel_futures=True)
