"""The one wrapper around ONNX Runtime: providers, thread count, session reuse."""

from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path

import numpy as np

from genmedia.errors import ModelError
from genmedia.registry import external_data_locations, read_regular, verified_sha256


def default_threads() -> int:
    """Threads per session: `OMP_NUM_THREADS` if set, else one per CPU core."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    return int(env) if env.isdigit() and int(env) > 0 else max(1, os.cpu_count() or 1)


@cache
def _session(path: Path, version: tuple[int, int, int, int], threads: int, expected: str | None):
    """A session for the ONNX file at resolved `path` (one per file `version`: device, inode, size,
    mtime). It is built from the very bytes that are hashed, so a file swapped after the registry
    verified it is refused rather than loaded."""
    import onnxruntime as ort

    data = read_regular(path, what="model file")
    if expected is not None and hashlib.sha256(data).hexdigest() != expected:
        raise ModelError(f"{path}: changed after its sha256 was verified, so it is refused")
    try:
        external = external_data_locations(data)
    except ValueError as exc:
        raise ModelError(f"{path}: {exc}, so it is refused") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # A model from bytes finds any external data it names in this folder, not the working directory.
    options.add_session_config_entry("session.model_external_initializers_file_folder_path", str(path.parent))
    # External data (verified with the model's other files) is read by ONNX Runtime beside the file,
    # which older runtimes do only for a model loaded from its path.
    model = str(path) if external else data
    try:
        return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad graphs
        why = " ".join(str(exc).split())
        raise ModelError(f"{path}: ONNX Runtime cannot load this model ({why})") from None


class OnnxModel:
    """An ONNX graph ready to run; sessions are cached, so one file loads once per process.

    A file that `ModelInfo.file` returned loads only if its bytes are still the verified ones.
    """

    def __init__(self, path: Path, *, threads: int | None = None) -> None:
        self.path = Path(path)
        try:
            resolved = self.path.resolve()
            info = resolved.stat()
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop, before Python 3.13
            raise ModelError(f"{self.path}: cannot read this model file ({exc.strerror or exc})") from None
        version = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        self.session = _session(resolved, version, threads or default_threads(), verified_sha256(resolved))
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def run(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Run the graph on named float32/int64 arrays; return outputs by name."""
        missing = set(self.input_names) - set(inputs)
        if missing:
            raise ModelError(f"{self.path}: missing inputs {sorted(missing)}")
        outputs = self.session.run(self.output_names, {k: inputs[k] for k in self.input_names})
        return dict(zip(self.output_names, outputs))
