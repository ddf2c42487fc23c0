"""Shipped and user models: find their JSON metadata, check it, verify every model file, pick defaults.

Each model is a `NAME.json` metadata file beside its ONNX files. Models ship in the
package (`genmedia/models` once installed, `models/` in a source checkout); extra
folders can be listed in the `GENMEDIA_MODELS_PATH` environment variable (os.pathsep
separated), and any command's `--model` also takes a path to a metadata file.

Metadata and model files may come from anyone, so nothing in them is trusted before it is
checked: the metadata against a schema, each file path to stay inside the metadata's folder,
each file to be a regular file of its recorded size (checked before reading, so the work is
bounded) and sha256, and each ONNX file to reference only external data files that are listed
(and so verified) too.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from genmedia.errors import ModelError
from genmedia.fileio import write_text_atomic
from genmedia.resources import resource_dir

METADATA_VERSION = 1
DEFAULT_MODELS = {"level": "smb-level-vae", "melody": "melody-2bar", "denoise": "denoise-unet"}
MAX_METADATA_BYTES = 64 * 2**20  # real metadata is a few KB; the bound is checked before reading
MAX_METADATA_DEPTH = 32  # real metadata nests 5 deep; deeper is refused before anything walks it
MAX_LOCATION_BYTES = 4096  # the longest external data file name read from an ONNX file

# Open without blocking on a FIFO (fstat then refuses it), in binary mode on Windows.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
_BLOCK = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")
# An ONNX tensor stored outside the file lists StringStringEntryProto entries in its external_data;
# the one with key "location" (field 1: tag 0x0a, length 8) names the file. Exporters write its
# value (field 2: tag 0x12, varint length, name) right after the key, as `_parse_location` expects.
_LOCATION_KEY = b"\x0a\x08location"
# (resolved path, device, inode, size, mtime) -> (sha256, external data locations): one read per file version
_CHECKED: dict[tuple[Path, int, int, int, int], tuple[str, tuple[str, ...]]] = {}
_VERIFIED: dict[Path, str] = {}  # resolved path -> the sha256 its last successful check found


@dataclass(frozen=True)
class ModelInfo:
    """One model: its metadata (as written at export, schema-checked) and where its files are."""

    name: str
    task: str
    metadata_path: Path
    metadata: dict[str, Any]

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        return self.metadata["files"]

    def path(self, role: str) -> Path:
        """Where the file with `role` is, unverified."""
        return self.metadata_path.parent / self.files[role]["path"]

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
        its recorded size and sha256, and every external data file it references is listed too."""
        entry, path = self.files[role], self.path(role)
        resolved = _inside(self.metadata_path.parent, path)
        digest, locations = _checked(path, resolved, entry["bytes"])
        if digest != entry["sha256"]:
            raise ModelError(
                f"{path}: sha256 does not match the model's metadata; the file is corrupt or was "
                "replaced, so it is refused (reinstall genmedia or re-export the model)"
            )
        listed = {_resolve(self.path(r)) for r in self.files}
        for location in locations:
            if _resolve(resolved.parent / location) not in listed:
                raise ModelError(f"{path}: uses external data file {location!r}, which the model's metadata "
                                 "does not list with a sha256, so its weights cannot be verified and it is refused")
        _VERIFIED[resolved] = digest


def model_dirs() -> list[Path]:
    """The folders searched for models, user folders first."""
    extra = [Path(p) for p in os.environ.get("GENMEDIA_MODELS_PATH", "").split(os.pathsep) if p]
    return [*extra, resource_dir("models")]


def load_info(metadata_path: Path) -> ModelInfo:
    """Read one metadata file; raise `ModelError` (naming the file) unless it is valid model metadata."""
    path = Path(metadata_path)
    meta = _read_metadata(path)
    _check_metadata(path, meta)
    return ModelInfo(meta["name"], meta["task"], path, meta)


def scan_models(task: str | None = None) -> tuple[list[ModelInfo], list[ModelError]]:
    """All models found in `model_dirs()` (optionally of one task; the first of a name wins), and
    one error for each metadata file that could not be read."""
    found: dict[str, ModelInfo] = {}
    errors: list[ModelError] = []
    for folder in model_dirs():
        for path in _metadata_files(folder):
            try:
                info = load_info(path)
            except ModelError as exc:
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
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_sha256(path: Path) -> str | None:
    """The sha256 a `ModelInfo.check` last verified for the file at resolved `path`, if any; the
    runtime compares the bytes it loads with it, so a file swapped after its check is refused."""
    return _VERIFIED.get(path)


def read_regular(path: Path, *, what: str, limit: int | None = None) -> bytes:
    """The bytes of `path`; raise `ModelError` unless it is a regular file (of at most `limit` bytes)."""
    fd, info = _open_regular(path, path, what)
    try:
        if limit is not None and info.st_size > limit:
            raise ModelError(f"{path}: {what} is {info.st_size} bytes, over the {limit}-byte limit, so it is refused")
        return b"".join(_blocks(fd, path, info.st_size))
    finally:
        os.close(fd)


def is_plain_relative(text: str) -> bool:
    """Whether `text` is a relative path of plain names ('a/b.onnx'): no root, drive, '.' or '..',
    and no backslash (a separator on Windows only), so it means the same everywhere."""
    parts = text.split("/")
    return (bool(text) and "\\" not in text and "\0" not in text and ":" not in parts[0]
            and all(p not in ("", ".", "..") for p in parts))


def external_data_locations(data: bytes) -> list[str]:
    """The external data file names an ONNX file's bytes reference; `ValueError` for an entry it cannot read."""
    found, at = [], data.find(_LOCATION_KEY)
    while at >= 0:
        found.append(_parse_location(data[at + len(_LOCATION_KEY):at + len(_LOCATION_KEY) + 11 + MAX_LOCATION_BYTES]))
        at = data.find(_LOCATION_KEY, at + 1)
    return found


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


def _open_regular(path: Path, shown: Path, what: str) -> tuple[int, os.stat_result]:
    """An open descriptor of `path` and its fstat, refused unless it is a regular file (never a FIFO,
    device or folder, which could block or never end); errors name `shown`."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise ModelError(f"{shown}: {what} is missing") from None
    except OSError as exc:
        raise ModelError(f"{shown}: cannot open {what} ({exc.strerror or exc})") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise ModelError(f"{shown}: {what} is not a regular file, so it is refused")
    return fd, info


def _blocks(fd: int, path: Path, size: int) -> Iterator[bytes]:
    """The first `size` bytes at `fd`, in blocks (a file shorter than that is refused)."""
    done = 0
    while done < size:
        block = os.read(fd, min(_BLOCK, size - done))
        if not block:
            raise ModelError(f"{path}: shrank while it was read")
        done += len(block)
        yield block


def _checked(path: Path, resolved: Path, size: int) -> tuple[str, tuple[str, ...]]:
    """The sha256 and external data locations of the regular file `resolved`, once its size is `size`."""
    fd, info = _open_regular(resolved, path, "model file")
    try:
        if info.st_size != size:
            raise ModelError(f"{path}: is {info.st_size} bytes but the model's metadata says {size}; the file is "
                             "corrupt or was replaced, so it is refused (reinstall genmedia or re-export the model)")
        key = (resolved, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        if key not in _CHECKED:
            _CHECKED[key] = _hash_and_scan(fd, path, size)
        return _CHECKED[key]
    finally:
        os.close(fd)


def _hash_and_scan(fd: int, path: Path, size: int) -> tuple[str, tuple[str, ...]]:
    """One streaming pass (any file may be large external data): the sha256 of the file's `size`
    bytes and where `_LOCATION_KEY` occurs in them; then the names at those places."""
    digest, offsets, tail, done = hashlib.sha256(), [], b"", 0
    for block in _blocks(fd, path, size):
        digest.update(block)
        window = tail + block  # the tail is shorter than the key, so no match is counted twice
        at = window.find(_LOCATION_KEY)
        while at >= 0:
            offsets.append(done - len(tail) + at)
            at = window.find(_LOCATION_KEY, at + 1)
        tail, done = window[-(len(_LOCATION_KEY) - 1):], done + len(block)
    locations = []
    for offset in offsets:
        os.lseek(fd, offset + len(_LOCATION_KEY), os.SEEK_SET)
        try:
            locations.append(_parse_location(os.read(fd, 11 + MAX_LOCATION_BYTES)))
        except ValueError as exc:
            raise ModelError(f"{path}: {exc}, so it is refused") from None
    return digest.hexdigest(), tuple(locations)


def _parse_location(data: bytes) -> str:
    """The file name in the value field that starts `data` (after a "location" key)."""
    if not data or data[0] != 0x12:
        raise ValueError("has an external data location genmedia cannot read")
    length, shift, at = 0, 0, 1
    while at < len(data) and at <= 10:
        length |= (data[at] & 0x7F) << shift
        shift, at = shift + 7, at + 1
        if not data[at - 1] & 0x80:
            break
    else:
        raise ValueError("has an external data location genmedia cannot read")
    if not 0 < length <= MAX_LOCATION_BYTES or at + length > len(data):
        raise ValueError("has an external data location genmedia cannot read")
    return data[at:at + length].decode("utf-8")  # UnicodeDecodeError is a ValueError


def _read_metadata(path: Path) -> dict[str, Any]:
    data = read_regular(path, what="model metadata file", limit=MAX_METADATA_BYTES)
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


def _is_int(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _matrix(value: Any) -> bool:
    return (isinstance(value, list) and bool(value) and all(isinstance(row, list) and len(row) == len(value[0]) > 0
                                                            and all(map(_is_number, row)) for row in value))


# What a field may be: its test, and how a message says it.
_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "text": (lambda v: isinstance(v, str) and v != "", "a non-empty string"),
    "string": (lambda v: isinstance(v, str), "a string"),
    "object": (lambda v: isinstance(v, dict), "an object"),
    "size": (lambda v: _is_int(v, 1), "a whole number >= 1"),
    "count": (lambda v: _is_int(v, 0), "a whole number >= 0"),
    "number": (_is_number, "a finite number"),
    "numbers": (lambda v: isinstance(v, list) and len(v) >= 2 and all(map(_is_number, v)), "a list of numbers"),
    "strings": (_strings, "a list of strings"),
    "string lists": (lambda v: isinstance(v, dict) and all(map(_strings, v.values())), "an object of string lists"),
    "matrices": (lambda v: isinstance(v, list) and bool(v) and all(map(_matrix, v)), "a list of number matrices"),
    "path": (lambda v: isinstance(v, str) and is_plain_relative(v),
             "a relative path inside the metadata's folder (no root, drive, '.', '..' or backslash)"),
    "sha256": (lambda v: isinstance(v, str) and _SHA256.fullmatch(v) is not None, "64 lowercase hex digits"),
}
# Schema rules: (field, kind, required). A rule applies where the field's parent object exists, and
# `required` then means the field must be there too. Only what genmedia reads is checked, by task.
Rule = tuple[str, str, bool]
_RULES: dict[str, list[Rule]] = {
    "": [("description", "string", False), ("training", "object", False), ("metrics", "object", False),
         ("latent", "object", False), ("prior", "object", False), ("prior.type", "text", False)],
    "level": [("vocabulary", "object", True), ("vocabulary.chars", "strings", True),
              ("vocabulary.properties", "string lists", False), ("rows", "size", True), ("rows_padded", "size", True),
              ("latent", "object", True), ("latent.channels", "size", True), ("latent.columns_per_step", "size", True)],
    "melody": [("steps", "size", True), ("latent", "object", True), ("latent.size", "size", True),
               ("vocabulary", "object", True), ("vocabulary.start_token", "count", True), ("decoder", "object", False),
               ("decoder.kind", "text", True), ("decoder.steps_per_bar", "size", False)],
    "denoise": [("input", "object", False), ("input.multiple", "size", False), ("noise", "object", False),
                ("noise.sigma_range", "numbers", False)],
}
# Rules that apply when a field has a given value (a prior's type, a decoder's kind).
_WHEN: dict[tuple[str, str], list[Rule]] = {
    ("prior.type", "exemplar-markov"): [("prior.sequences", "matrices", True), ("prior.bandwidth", "number", True),
                                        ("prior.jump_probability", "number", True)],
    ("prior.type", "kernel-density"): [("prior.bandwidth", "number", True)],
    ("decoder.kind", "hierarchical"): [("decoder.bars", "size", True)],
}
_HEAD: list[Rule] = [("name", "text", True), ("task", "text", True), ("files", "object", True)]
_FILE_RULES: list[Rule] = [("path", "path", True), ("sha256", "sha256", True), ("bytes", "count", True)]
_MISSING = object()


def _check_metadata(path: Path, meta: dict[str, Any]) -> None:
    """Raise `ModelError` naming `path` and the field unless `meta` fits the schema."""
    version = meta.get("format_version", _MISSING)
    if version is _MISSING:
        _refuse(path, "format_version", "is missing")
    if not _is_int(version, 0) or version != METADATA_VERSION:
        raise ModelError(f"{path}: unsupported metadata format {_shown(version)} (this genmedia reads "
                         f"{METADATA_VERSION})")
    _apply(path, meta, _HEAD)
    for role, entry in meta["files"].items():
        if not isinstance(entry, dict):
            _refuse(path, f"files.{role}", "must be an object with path, sha256 and bytes")
        _apply(path, entry, _FILE_RULES, f"files.{role}.")  # a role may hold dots: not split
    _apply(path, meta, _RULES[""] + _RULES.get(meta["task"], []))
    for (field, value), rules in _WHEN.items():
        if _lookup(meta, field.split(".")) == value:
            _apply(path, meta, rules)


def _apply(path: Path, meta: dict[str, Any], rules: list[Rule], prefix: str = "") -> None:
    for field, kind, required in rules:
        *parents, key = field.split(".")
        parent = _lookup(meta, parents)
        if not isinstance(parent, dict):
            continue  # the parent's own rule reports it, if it is required
        value = parent.get(key, _MISSING)
        test, what = _KINDS[kind]
        if value is _MISSING and required:
            _refuse(path, prefix + field, "is missing")
        elif value is not _MISSING and not test(value):
            _refuse(path, prefix + field, f"must be {what}, not {_shown(value)}")


def _lookup(meta: dict[str, Any], keys: list[str]) -> Any:
    value: Any = meta
    for key in keys:
        value = value.get(key, _MISSING) if isinstance(value, dict) else _MISSING
    return value


def _shown(value: Any) -> str:
    text = json.dumps(value)  # depth is bounded by now; one line, and JSON's own spelling
    return text if len(text) <= 40 else f"{text[:37]}..."


def _refuse(path: Path, field: str, why: str) -> NoReturn:
    raise ModelError(f"{path}: field {field!r} {why}")
