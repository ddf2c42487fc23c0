"""Shipped and user models: find their JSON metadata, verify file hashes, pick defaults.

Each model is a `NAME.json` metadata file beside its ONNX files. Models ship in the
package (`genmedia/models` once installed, `models/` in a source checkout); extra
folders can be listed in the `GENMEDIA_MODELS_PATH` environment variable (os.pathsep
separated), and any command's `--model` also takes a path to a metadata file.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from genmedia.errors import ModelError
from genmedia.fileio import write_text_atomic
from genmedia.resources import resource_dir

METADATA_VERSION = 1
DEFAULT_MODELS = {"level": "smb-level-vae", "melody": "melody-2bar", "denoise": "denoise-unet"}


@dataclass(frozen=True)
class ModelInfo:
    """One model: its metadata (as written at export) and where its files are."""

    name: str
    task: str
    metadata_path: Path
    metadata: dict[str, Any]

    def file(self, role: str) -> Path:
        """The path of the file with `role` (e.g. 'encoder'), verified against its sha256."""
        files = self.metadata.get("files", {})
        if role not in files:
            raise ModelError(f"{self.metadata_path}: model {self.name!r} has no {role!r} file")
        entry = files[role]
        path = self.metadata_path.parent / entry["path"]
        verify_file(path, entry["sha256"])
        return path


def model_dirs() -> list[Path]:
    """The folders searched for models, user folders first."""
    extra = [Path(p) for p in os.environ.get("GENMEDIA_MODELS_PATH", "").split(os.pathsep) if p]
    return [*extra, resource_dir("models")]


def load_info(metadata_path: Path) -> ModelInfo:
    """Read one metadata file; raise `ModelError` if it is not genmedia model metadata."""
    try:
        meta = json.loads(Path(metadata_path).read_text(encoding="utf-8"))
        name, task = meta["name"], meta["task"]
        files = meta["files"]
    except FileNotFoundError:
        raise ModelError(f"{metadata_path}: no such model metadata file") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{metadata_path}: not genmedia model metadata ({exc.__class__.__name__}: {exc})") from None
    if meta.get("format_version") != METADATA_VERSION or not isinstance(files, dict):
        raise ModelError(f"{metadata_path}: unsupported metadata format {meta.get('format_version')!r}")
    return ModelInfo(str(name), str(task), Path(metadata_path), meta)


def list_models(task: str | None = None) -> list[ModelInfo]:
    """All models found in `model_dirs()`, optionally of one task; the first of a name wins."""
    found: dict[str, ModelInfo] = {}
    for folder in model_dirs():
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                info = load_info(path)
            except ModelError:
                continue
            if (task is None or info.task == task) and info.name not in found:
                found[info.name] = info
    return list(found.values())


def get_model(name: str | Path | None, *, task: str) -> ModelInfo:
    """Resolve a model name (or a metadata path) for `task`; None means the task's default."""
    name = DEFAULT_MODELS.get(task) if name is None else name
    if name is None:
        raise ModelError(f"no default model for task {task!r}")
    text = str(name)
    if text.endswith(".json") or os.sep in text:
        info = load_info(Path(text))
    else:
        matches = [m for m in list_models(task) if m.name == text]
        if not matches:
            known = ", ".join(m.name for m in list_models(task)) or "none"
            raise ModelError(f"no {task} model named {text!r} (available: {known})")
        info = matches[0]
    if info.task != task:
        raise ModelError(f"{info.metadata_path}: model {info.name!r} is a {info.task} model, not a {task} model")
    return info


def write_metadata(path: Path, meta: dict[str, Any], *, overwrite: bool = False) -> Path:
    """Write a model's metadata JSON (indented, newline-terminated) atomically."""
    return write_text_atomic(Path(path), json.dumps(meta, indent=2) + "\n", overwrite=overwrite)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@cache
def _verified(path: Path, mtime_ns: int, size: int, expected: str) -> bool:
    return sha256_file(path) == expected


def verify_file(path: Path, expected: str) -> None:
    """Raise `ModelError` unless `path` exists and its sha256 is `expected` (cached per mtime/size)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ModelError(f"{path}: model file is missing") from None
    if not _verified(path.resolve(), stat.st_mtime_ns, stat.st_size, expected):
        raise ModelError(
            f"{path}: sha256 does not match the model's metadata; the file is corrupt or was "
            "replaced, so it is refused (reinstall genmedia or re-export the model)"
        )
