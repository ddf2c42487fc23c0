"""The one wrapper around ONNX Runtime: providers, thread count, session reuse."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import numpy as np

from genmedia.errors import ModelError


def default_threads() -> int:
    """Threads per session: `OMP_NUM_THREADS` if set, else one per CPU core."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    return int(env) if env.isdigit() and int(env) > 0 else max(1, os.cpu_count() or 1)


@cache
def _session(path: Path, mtime_ns: int, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad graphs
        raise ModelError(f"{path}: ONNX Runtime cannot load this model ({exc})") from None


class OnnxModel:
    """An ONNX graph ready to run; sessions are cached, so one file loads once per process."""

    def __init__(self, path: Path, *, threads: int | None = None) -> None:
        self.path = Path(path)
        self.session = _session(self.path.resolve(), self.path.stat().st_mtime_ns, threads or default_threads())
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def run(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Run the graph on named float32/int64 arrays; return outputs by name."""
        missing = set(self.input_names) - set(inputs)
        if missing:
            raise ModelError(f"{self.path}: missing inputs {sorted(missing)}")
        outputs = self.session.run(self.output_names, {k: inputs[k] for k in self.input_names})
        return dict(zip(self.output_names, outputs))
