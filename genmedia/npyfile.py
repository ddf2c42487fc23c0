"""Read a model's matrix from a .npy file, checking its header before anything is allocated.

`np.load` allocates whatever shape the header claims, so a 128-byte file saying (10**11, 64)
asks for 25 TB; `read_matrix` checks the claimed shape against what the model expects, a sane
row count and the file's own size first, and every failure is one `ModelError` naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
from numpy.lib import format as npy_format

from genmedia.errors import ModelError

if TYPE_CHECKING:
    from genmedia.registry import ModelInfo

MAX_ROWS = 10_000_000
"""Rows any model matrix may have (a prior holds one per training window; real ones have thousands)."""


def _header(handle: BinaryIO, path: Path, kind: str) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    try:
        version = npy_format.read_magic(handle)
        if version == (1, 0):
            return npy_format.read_array_header_1_0(handle)
        if version == (2, 0):
            return npy_format.read_array_header_2_0(handle)
        raise ValueError(f"unsupported .npy version {version[0]}.{version[1]}")
    except (OSError, ValueError, EOFError, SyntaxError, TypeError) as exc:
        raise ModelError(f"{path}: not a {kind} .npy file ({' '.join(str(exc).split())})") from None


def read_matrix(path: Path, *, columns: int, rows: int | None = None, kind: str = "model matrix",
                needs: str = "", max_rows: int = MAX_ROWS) -> np.ndarray:
    """The finite float32 matrix (rows, `columns`) in the .npy file `path` (exactly `rows` rows if
    given, else 1 to `max_rows`); `ModelError` naming the file for anything else. `kind` names the
    file ("not a {kind} .npy file"), `needs` says which shape the model needs."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            shape, _, dtype = _header(handle, path, kind)
            if dtype.hasobject or dtype.kind not in "fiu" or dtype.fields is not None:
                raise ModelError(f"{path}: holds {dtype} values, not numbers")
            needs = needs or f"this model needs ({rows if rows is not None else 'rows'}, {columns})"
            if (len(shape) != 2 or shape[1] != columns or shape[0] == 0 or shape[0] > max_rows
                    or (rows is not None and shape[0] != rows)):
                most = f", with at most {max_rows} rows" if len(shape) == 2 and shape[0] > max_rows else ""
                raise ModelError(f"{path}: holds an array of shape {tuple(shape)}; {needs}{most}")
            needed = shape[0] * shape[1] * dtype.itemsize
            have = os.fstat(handle.fileno()).st_size - handle.tell()
            if have != needed:
                raise ModelError(f"{path}: its header promises {needed} bytes of data but the file holds {have}; "
                                 "it is truncated or corrupt")
            handle.seek(0)
            data = npy_format.read_array(handle, allow_pickle=False)
    except ModelError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise ModelError(f"{path}: not a {kind} .npy file ({' '.join(str(exc).split())})") from None
    data = np.asarray(data, dtype=np.float32).reshape(shape)
    if not np.isfinite(data).all():
        raise ModelError(f"{path}: holds values that are not finite numbers")
    return data


def attach_matrix(info: ModelInfo, key: str, matrix: np.ndarray, entry: dict[str, Any]) -> dict[str, Any]:
    """Store `matrix` (float32) as `NAME.KEY.npy` beside a model and record it: the file (path, sha256,
    bytes) under `files.KEY` and `entry` under `KEY` of its metadata, rewritten atomically. Returns
    the new metadata. How the fitted priors, concept vectors and styles are kept with a model."""
    from genmedia.fileio import write_atomic
    from genmedia.registry import sha256_file, write_metadata

    path = info.metadata_path.with_name(f"{info.name}.{key}.npy")
    data = np.ascontiguousarray(matrix, dtype=np.float32)
    write_atomic(path, lambda tmp: np.save(tmp, data, allow_pickle=False), overwrite=True)
    meta = dict(info.metadata)
    meta["files"] = {**meta["files"], key: {"path": path.name, "sha256": sha256_file(path),
                                            "bytes": path.stat().st_size}}
    meta[key] = entry
    write_metadata(info.metadata_path, meta, overwrite=True)
    return meta
