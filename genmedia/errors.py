"""Exceptions that library code raises and the CLI turns into one-line messages."""

from __future__ import annotations

from pathlib import Path


class GenmediaError(Exception):
    """Base class for every error genmedia reports to a user without a traceback."""

    exit_code = 1  # the CLI's exit status for it


class FileError(GenmediaError):
    """A problem with one file: the message names the file (`path`) and the problem (`why`)."""

    def __init__(self, path: str | Path, why: str) -> None:
        self.path = Path(path)
        self.why = why
        super().__init__(f"{path}: {why}")


class InputError(FileError):
    """A user-supplied file cannot be used."""


class ModelError(GenmediaError):
    """A shipped or user model is missing, corrupt or inconsistent with its metadata.

    The message names the file where there is one ("PATH: why"); `path` is that file where the
    code that collects errors sets it (`registry.scan_models` does, for each metadata file)."""

    path: Path | None = None


class MissingExtraError(GenmediaError):
    """An optional dependency (such as torch for training) is not installed."""


class TrainingPaused(GenmediaError):
    """Training stopped at its time limit after saving its checkpoint; the same command resumes it."""

    exit_code = 75  # EX_TEMPFAIL: try again (`until genmedia train ...; [ $? -ne 75 ]; do :; done`)

    def __init__(self, step: int, steps: int, checkpoint: Path) -> None:
        self.step, self.steps, self.checkpoint = step, steps, Path(checkpoint)
        super().__init__(f"time limit reached at step {step} of {steps}; saved {checkpoint}, "
                         "and the same command resumes from it")
