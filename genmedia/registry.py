"""Shipped and user models: find their JSON metadata, check it, verify every model file, pick defaults.

Each model is a `NAME.json` metadata file beside its ONNX files. Models ship in the
package (`genmedia/models` once installed, `models/` in a source checkout); extra
folders can be listed in the `GENMEDIA_MODELS_PATH` environment variable (os.pathsep
separated), and any command's `--model` also takes a path to a metadata file.

Metadata and model files may come from anyone, so nothing in them is trusted before it is
checked: the metadata against the schema (`genmedia.schema`), each file path to stay inside the
metadata's folder, each file to be a regular file of its recorded size (checked before reading,
so the work is bounded) and sha256, and each ONNX file to reference only external data files
that are listed (and so verified) too (`genmedia.onnxfile` reads every reference). What a check
verified is kept (`verified`), so the runtime can build its session from the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from genmedia.errors import ModelError
from genmedia.fileio import write_text_atomic
from genmedia.inputs import BLOCK, open_input, read_blocks, read_input_bytes
from genmedia.onnxfile import ExternalData, external_data
from genmedia.resources import resource_dir
from genmedia.schema import METADATA_VERSION, check_metadata, is_plain_relative

__all__ = ["DEFAULT_MODELS", "METADATA_VERSION", "ExternalFile", "ModelInfo", "VerifiedFile", "external_files",
           "get_model", "is_plain_relative", "list_models", "load_info", "model_dirs", "model_file_error",
           "scan_models", "sha256_file", "verified", "write_metadata"]

DEFAULT_MODELS = {"level": "smb-level-vae", "melody": "melody-2bar", "denoise": "denoise-unet"}
MAX_METADATA_BYTES = 64 * 2**20  # real metadata is a few KB; the bound is checked before reading
MAX_METADATA_DEPTH = 32  # real metadata nests 5 deep; deeper is refused before anything walks it
ORT_MEMORY_TAG = "_ORT_MEM_ADDR_"  # ONNX Runtime reads a location holding this as a memory address


@dataclass(frozen=True)
class ExternalFile:
    """A listed, verified file an ONNX file reads external data from: as the ONNX file names it
    (`location`, relative to its folder), where it is, and its recorded sha256 and size."""

    location: str
    path: Path
    sha256: str
    size: int


@dataclass(frozen=True)
class VerifiedFile:
    """What `ModelInfo.check` found for one file: its sha256 and size, and the files of the model it
    was verified with (resolved path, sha256, bytes), where its external data must come from (none
    for an ONNX file that has no external data)."""

    sha256: str
    size: int
    listed: tuple[tuple[Path, str, int], ...]


# (resolved path, device, inode, size, mtime, read as ONNX) -> (sha256, external data references): one read
# per file version
_CHECKED: dict[tuple[Path, int, int, int, int, bool], tuple[str, tuple[ExternalData, ...]]] = {}
_VERIFIED: dict[Path, VerifiedFile] = {}  # resolved path -> what its last successful check found


def model_file_error(path: Path, why: str) -> ModelError:
    """The error `genmedia.inputs` raises for a model file or metadata file it cannot read."""
    return ModelError(f"{path}: {why}")


@dataclass(frozen=True)
class ModelInfo:
    """One model: its metadata (as written at export, schema-checked) and where its files are."""

    name: str
    task: str
    metadata_path: Path
    metadata: dict[str, Any]

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        files: dict[str, dict[str, Any]] = self.metadata["files"]
        return files

    def path(self, role: str) -> Path:
        """Where the file with `role` is, unverified."""
        return self.metadata_path.parent / str(self.files[role]["path"])

    def file(self, role: str) -> Path:
        """The path of the file with `role` (e.g. 'encoder'), once every file of the model is verified."""
        if role not in self.files:
            raise ModelError(f"{self.metadata_path}: model {self.name!r} has no {role!r} file")
        self.verify()
        return self.path(role)

    def verify(self) -> None:
        """Raise `ModelError` unless every file the metadata lists passes `check`."""
        for role in self.files:
            self.check(role)

    def check(self, role: str) -> None:
        """Raise `ModelError` unless `role`'s file is a regular file inside the model's folder with
        its recorded size and sha256, and (for an .onnx file) every external data file it references
        is listed too. The runtime checks the references of whatever file it loads again."""
        entry, path = self.files[role], self.path(role)
        resolved, onnx = _inside(self.metadata_path.parent, path), path.suffix.lower() == ".onnx"
        digest, references = _checked(path, resolved, entry["bytes"], onnx=onnx)
        if digest != entry["sha256"]:
            raise ModelError(
                f"{path}: sha256 does not match the model's metadata; the file is corrupt or was "
                "replaced, so it is refused (reinstall genmedia or re-export the model)"
            )
        listed = tuple((_resolve(self.path(r)), f["sha256"], f["bytes"]) for r, f in self.files.items())
        external_files(path, resolved, references, listed)
        # The listing matters to the runtime only for a file that may read external data (and the
        # runtime caches a session per verification): an ONNX file found to have none keeps none.
        _VERIFIED[resolved] = VerifiedFile(digest, entry["bytes"], listed if references or not onnx else ())


def external_files(shown: Path, resolved: Path, references: list[ExternalData] | tuple[ExternalData, ...],
                   listed: tuple[tuple[Path, str, int], ...]) -> tuple[ExternalFile, ...]:
    """The listed files the ONNX file at `resolved` (named `shown` in errors) reads its external
    data from; `ModelError` for a location that is not one of the `listed` files (resolved path,
    sha256, bytes), is not a plain relative path, or asks for bytes past the file's end."""
    by_path = {path: (sha, size) for path, sha, size in listed}
    found: dict[str, ExternalFile] = {}
    for ref in references:
        location = ref.location
        if ORT_MEMORY_TAG in location:
            raise ModelError(f"{shown}: names external data location {location!r}, which ONNX Runtime reads as a "
                             "memory address, so it is refused")
        target = _resolve(resolved.parent / location)
        if target not in by_path:
            raise ModelError(f"{shown}: uses external data file {location!r}, which the model's metadata "
                             "does not list with a sha256, so its weights cannot be verified and it is refused")
        if not is_plain_relative(location):
            raise ModelError(f"{shown}: names external data file {location!r} by a path that is not plain "
                             "(no root, '.', '..' or backslash), so it is refused")
        sha, size = by_path[target]
        end = (ref.offset or 0) + (ref.length or 0)
        if end > size:
            raise ModelError(f"{shown}: reads external data up to byte {end:,} of {location!r}, which has "
                             f"{size:,} bytes, so it is refused")
        found.setdefault(location, ExternalFile(location, target, sha, size))
    return tuple(found.values())


def verified(path: Path) -> VerifiedFile | None:
    """What `ModelInfo.check` last verified for the file at resolved `path`, if it did; the runtime
    compares the bytes it loads with it, so a file swapped after its check is refused."""
    return _VERIFIED.get(path)


def model_dirs() -> list[Path]:
    """The folders searched for models, user folders first."""
    extra = [Path(p) for p in os.environ.get("GENMEDIA_MODELS_PATH", "").split(os.pathsep) if p]
    return [*extra, resource_dir("models")]


def load_info(metadata_path: Path) -> ModelInfo:
    """Read one metadata file; raise `ModelError` (naming the file) unless it is valid model metadata."""
    path = Path(metadata_path)
    meta = _read_metadata(path)
    check_metadata(path, meta)
    return ModelInfo(meta["name"], meta["task"], path, meta)


def scan_models(task: str | None = None) -> tuple[list[ModelInfo], list[ModelError]]:
    """All models found in `model_dirs()` (optionally of one task; the first of a name wins), and
    one error for each metadata file that could not be read (its `path` set to that file)."""
    found: dict[str, ModelInfo] = {}
    errors: list[ModelError] = []
    for folder in model_dirs():
        for path in _metadata_files(folder):
            try:
                info = load_info(path)
            except ModelError as exc:
                exc.path = path
                errors.append(exc)
                continue
            if (task is None or info.task == task) and info.name not in found:
                found[info.name] = info
    return list(found.values()), errors


def list_models(task: str | None = None) -> list[ModelInfo]:
    """The models of `scan_models`; a bad metadata file is skipped, so it cannot hide the good ones."""
    return scan_models(task)[0]


def get_model(name: str | Path | None, *, task: str) -> ModelInfo:
    """Resolve a model name (or a metadata path) for `task`; None means the task's default."""
    name = DEFAULT_MODELS.get(task) if name is None else name
    if name is None:
        raise ModelError(f"no default model for task {task!r}")
    text = str(name)
    if text.endswith(".json") or os.sep in text:
        info = load_info(Path(text))
    else:
        models, errors = scan_models(task)
        matches = [m for m in models if m.name == text]
        if not matches:
            known = ", ".join(m.name for m in models) or "none"
            unread = f"; {len(errors)} metadata file(s) could not be read (see genmedia models list)" if errors else ""
            raise ModelError(f"no {task} model named {text!r} (available: {known}){unread}")
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
        for block in iter(lambda: handle.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def _metadata_files(folder: Path) -> list[Path]:
    try:
        return sorted(folder.glob("*.json")) if folder.is_dir() else []
    except OSError:  # an unreadable folder holds no models we can use
        return []


def _resolve(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop: RuntimeError before Python 3.13
        raise ModelError(f"{path}: cannot resolve this path ({exc})") from None


def _inside(folder: Path, path: Path) -> Path:
    """`path` resolved, refused unless it (through any symlinks) stays inside `folder`."""
    resolved, root = _resolve(path), _resolve(folder)
    if not resolved.is_relative_to(root):
        raise ModelError(f"{path}: resolves to {resolved}, outside the model's folder {root}, so it is refused")
    return resolved


def _checked(path: Path, resolved: Path, size: int, *, onnx: bool) -> tuple[str, tuple[ExternalData, ...]]:
    """The sha256 (and, for an ONNX file, the external data references) of the regular file
    `resolved`, once its size is `size`; errors name `path`."""
    with open_input(resolved, what="model file", shown=path, error=model_file_error) as handle:
        info = os.fstat(handle.fileno())
        if info.st_size != size:
            raise ModelError(f"{path}: is {info.st_size} bytes but the model's metadata says {size}; the file is "
                             "corrupt or was replaced, so it is refused (reinstall genmedia or re-export the model)")
        key = (resolved, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, onnx)
        if key not in _CHECKED:
            _CHECKED[key] = _hash_and_scan(handle, path, size, onnx=onnx)
        return _CHECKED[key]


def _hash_and_scan(handle: BinaryIO, path: Path, size: int, *, onnx: bool) -> tuple[str, tuple[ExternalData, ...]]:
    """One streaming pass (any file may be large external data): the sha256 of the file's `size`
    bytes, and for an ONNX file (whole in memory, as the runtime loads it) its external data references."""
    digest, kept = hashlib.sha256(), bytearray()
    for block in read_blocks(handle, size, shown=path, error=model_file_error):
        digest.update(block)
        if onnx:
            kept += block
    try:
        references = tuple(external_data(memoryview(kept))) if onnx else ()
    except ValueError as exc:
        raise ModelError(f"{path}: {exc}, so it is refused") from None
    return digest.hexdigest(), references


def _read_metadata(path: Path) -> dict[str, Any]:
    data = read_input_bytes(path, limit=MAX_METADATA_BYTES, what="model metadata file", error=model_file_error)
    try:
        meta = json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ModelError(f"{path}: not genmedia model metadata (JSON nested too deeply)") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError; their messages are one line
        raise ModelError(f"{path}: not genmedia model metadata (not UTF-8 JSON: {exc})") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{path}: not genmedia model metadata (not a JSON object)")
    if _depth(meta) > MAX_METADATA_DEPTH:
        raise ModelError(f"{path}: not genmedia model metadata (nested over {MAX_METADATA_DEPTH} deep)")
    return meta


def _depth(value: Any) -> int:
    """How deep lists and objects nest in `value` (iteratively: no recursion limit to hit)."""
    deepest, stack = 0, [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack and deepest <= MAX_METADATA_DEPTH:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest
