"""The one wrapper around ONNX Runtime: providers, thread count, session reuse, verified bytes only."""

from __future__ import annotations

import hashlib
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from genmedia.errors import ModelError
from genmedia.inputs import open_input, read_blocks, read_input_bytes
from genmedia.onnxfile import external_data
from genmedia.registry import (
    ExternalFile,
    ModelInfo,
    VerifiedFile,
    external_files,
    get_model,
    model_file_error,
    verified,
)

MAX_ONNX_BYTES = 2**31  # protobuf cannot parse a larger message; bigger models keep weights in external data


def default_threads() -> int:
    """Threads per session: `OMP_NUM_THREADS` if set, else one per CPU core."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    return int(env) if env.isdigit() and int(env) > 0 else max(1, os.cpu_count() or 1)


@cache
def _session(path: Path, version: tuple[int, int, int, int], threads: int, checked: VerifiedFile | None) -> Any:
    """A session for the ONNX file at resolved `path` (one per file `version`: device, inode, size,
    mtime, and per verification).

    It is built from the very bytes that are hashed, so a file swapped after the registry verified
    it is refused rather than loaded. A model with external data is loaded from a private temporary
    folder holding those bytes and a copy of each listed external data file, made while its sha256
    is checked again: ONNX Runtime never opens a file in the model's folder, so one swapped after
    its check is never read. (A path the registry did not verify is the caller's to vouch for, and
    its external data is read beside it.)
    """
    import onnxruntime as ort

    data = read_input_bytes(path, limit=MAX_ONNX_BYTES, what="model file", error=model_file_error)
    if checked is not None and hashlib.sha256(data).hexdigest() != checked.sha256:
        raise ModelError(f"{path}: changed after its sha256 was verified, so it is refused")
    try:
        references = external_data(data)
    except ValueError as exc:
        raise ModelError(f"{path}: {exc}, so it is refused") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Errors only reach the user as the exceptions below, in one line naming the model: ONNX Runtime's
    # own log lines (coloured, timestamped; failures are logged at ERROR, 3) are all kept off stderr.
    options.log_severity_level = 4
    if not references:
        return _build(data, options, path)
    if checked is None:
        return _build(str(path), options, path)
    files = external_files(path, path, references, checked.listed)
    with tempfile.TemporaryDirectory(prefix="genmedia-onnx-", ignore_cleanup_errors=True) as private:
        model = Path(private) / path.name
        try:
            model.write_bytes(data)
            for file in files:
                if file.location != path.name:  # the model file itself, already there
                    _copy_verified(file, Path(private) / file.location)
        except OSError as exc:  # a full or read-only temporary folder
            raise ModelError(f"{path}: cannot copy the model and its external data to a private folder "
                             f"({exc.strerror or exc})") from None
        # ONNX Runtime reads initializers while it builds the session; the folder goes once it is built.
        return _build(str(model), options, path)


def _copy_verified(file: ExternalFile, destination: Path) -> None:
    """Copy a listed external data file to `destination`, checking its size and sha256 on the way."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with open_input(file.path, what="external data file", error=model_file_error) as source:
        size = os.fstat(source.fileno()).st_size
        if size != file.size:
            raise ModelError(f"{file.path}: changed after its sha256 was verified, so it is refused")
        with open(destination, "xb") as out:
            for block in read_blocks(source, size, shown=file.path, error=model_file_error):
                digest.update(block)
                out.write(block)
    if digest.hexdigest() != file.sha256:
        raise ModelError(f"{file.path}: changed after its sha256 was verified, so it is refused")


def _build(model: bytes | str, options: Any, shown: Path) -> Any:
    import onnxruntime as ort

    try:
        return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad graphs
        why = " ".join(str(exc).split())
        raise ModelError(f"{shown}: ONNX Runtime cannot load this model ({why})") from None


class OnnxModel:
    """An ONNX graph ready to run; sessions are cached, so one file loads once per process.

    A file that `ModelInfo.file` returned loads only if its bytes (and its external data) are
    still the verified ones.
    """

    def __init__(self, path: Path, *, threads: int | None = None) -> None:
        self.path = Path(path)
        try:
            resolved = self.path.resolve()
            info = resolved.stat()
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop, before Python 3.13
            why = (exc.strerror if isinstance(exc, OSError) else None) or exc
            raise ModelError(f"{self.path}: cannot read this model file ({why})") from None
        version = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        self.session = _session(resolved, version, threads or default_threads(), verified(resolved))
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def expect(self, tensor: str, dims: dict[int, tuple[int, str]] | None = None, *, metadata: Path) -> None:
        """Raise `ModelError` unless the graph has an input or output named `tensor` whose fixed
        sizes agree with the metadata: `dims` maps an axis to (the size the metadata's `field` gives,
        field). A symbolic (dynamic) axis agrees with any size."""
        found = {t.name: t for t in (*self.session.get_inputs(), *self.session.get_outputs())}
        if tensor not in found:
            raise ModelError(f"{self.path}: has no input or output {tensor!r}, which model {metadata} needs")
        shape = found[tensor].shape or []
        for axis, (size, field) in (dims or {}).items():
            fixed = shape[axis] if axis < len(shape) else None
            if isinstance(fixed, int) and fixed != size:
                raise ModelError(f"{metadata}: field {field!r} is {size}, but {self.path.name} has {fixed} on "
                                 f"axis {axis} of {tensor!r}")

    def run(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Run the graph on named float32/int64 arrays; return outputs by name."""
        missing = set(self.input_names) - set(inputs)
        if missing:
            raise ModelError(f"{self.path}: missing inputs {sorted(missing)}")
        try:
            outputs = self.session.run(self.output_names, {k: inputs[k] for k in self.input_names}, _quiet_run())
        except Exception as exc:  # onnxruntime raises its own untyped errors, over several lines
            why = " ".join(str(exc).split())
            if "allocate memory" in why or "bad_alloc" in why or "bad allocation" in why:
                raise MemoryError(why) from None
            shapes = ", ".join(f"{k} {tuple(inputs[k].shape)}" for k in self.input_names)
            raise ModelError(f"{self.path}: ONNX Runtime failed running this model on {shapes} ({why})") from None
        return dict(zip(self.output_names, outputs))


@cache
def _quiet_run() -> Any:
    """Run options that keep ONNX Runtime's own log lines off stderr (see `_session`)."""
    import onnxruntime as ort

    options = ort.RunOptions()
    options.log_severity_level = 4
    return options


ModelT = TypeVar("ModelT", bound="Model")


class Model:
    """What the model kinds (`LevelModel`, `MelodyModel`, `Denoiser`) share: a model of one registry
    `task`, built from its metadata (`info`), whose ONNX files are opened by role with `graph`.

    A subclass declares its `task` and reads what it needs from `info.metadata` in `__init__`,
    after calling this one; `load` finds the model by name for that task.
    """

    task: ClassVar[str]  # the registry task this class runs: 'level', 'melody' or 'denoise'

    def __init__(self, info: ModelInfo, *, threads: int | None = None) -> None:
        self.info = info
        self.threads = threads  # threads per ONNX Runtime session; None: `default_threads()`

    @classmethod
    def load(cls: type[ModelT], name: str | Path | None = None, *, threads: int | None = None) -> ModelT:
        """Load a model of this kind by name (`genmedia models list`) or metadata path; None loads
        the task's default shipped model. `threads` per ONNX Runtime session (None: `default_threads`)."""
        return cls(get_model(name, task=cls.task), threads=threads)

    def graph(self, role: str) -> OnnxModel:
        """The model's ONNX file with `role` (e.g. 'encoder'), verified against its metadata and
        opened (one session per file and process, see `OnnxModel`)."""
        return OnnxModel(self.info.file(role), threads=self.threads)
