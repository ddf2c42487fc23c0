"""Start a melody VAE from a trained model's exported weights (`genmedia train melody --init MODEL`).

The ONNX exporter renames and rearranges a network's weights: an LSTM's gates are reordered, its
two biases concatenated and its directions stacked, and a Linear's weight may be transposed into a
MatMul. So they cannot be read back by name. Instead every parameter of a fresh network of the same
settings is filled with its elements' serial numbers (1, 2, ... as float32, exact below 2**24) and
exported again: each element of each initializer then names the parameter element it came from, and
the trained file's initializer in the same place holds that element's trained value. The loaded
network must then reproduce the trained files' outputs (`check_outputs`), so a mapping that went
wrong cannot pass unnoticed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from genmedia.training.export import Graph, WeightsMismatch, export_graph, onnx_initializers
from genmedia.training.melody_export import graphs
from genmedia.training.melody_net import MelodyVAE, MelodyVAEConfig

SERIAL_LIMIT = 2 ** 24  # float32 holds every integer below this exactly
TOLERANCE = 1e-4


def read_init(path: Path) -> tuple[dict[str, list[tuple[str, np.ndarray]]], dict[str, Path], dict]:
    """A trained melody model's initializers per graph (in file order), its ONNX files (each checked
    against its sha256 by the registry) and what a run starting from it records about it."""
    from genmedia.registry import get_model

    info = get_model(path, task="melody")
    roles = [r for r in ("encoder", "conductor", "decoder_init", "decoder_step") if r in info.files]
    files = {role: info.file(role) for role in roles}
    weights = {role: onnx_initializers(p) for role, p in files.items()}
    lineage = {"model": info.name, "files": {r: info.files[r]["sha256"] for r in roles},
               "training": info.metadata.get("training"), "metrics": info.metadata.get("metrics")}
    return weights, files, lineage


def _initializers(graph: Graph, folder: Path) -> list[tuple[str, np.ndarray]]:
    path = folder / f"{graph.role}.onnx"
    export_graph(graph, path, overwrite=True)
    return onnx_initializers(path)


def _pairs(role: str, fresh: list[tuple[str, np.ndarray]], trained: list[tuple[str, np.ndarray]]):
    """Each fresh initializer with the trained one in its place: by name where the names agree, else
    in file order (the exporter numbers unnamed weights as it meets them)."""
    if len(fresh) != len(trained):
        raise WeightsMismatch(f"the {role} holds {len(trained)} weight tensors, this network {len(fresh)}")
    by_name = dict(trained)
    if {n for n, _ in fresh} == set(by_name):
        matched = [(n, a, by_name[n]) for n, a in fresh]
    else:
        matched = [(n, a, b) for (n, a), (_, b) in zip(fresh, trained)]
    for name, a, b in matched:
        if a.shape != b.shape:
            raise WeightsMismatch(f"{role} {name} is {b.shape}, not {a.shape}")
    return matched


@torch.no_grad()
def init_from(model: MelodyVAE, trained: dict[str, list[tuple[str, np.ndarray]]]) -> list[str]:
    """Load the trained initializers (`read_init`) into `model`; return the names of the parameters
    the exported graphs do not hold (training-only heads), which keep their fresh values.

    Raises `WeightsMismatch` when the graphs, their tensors or their shapes differ, or when one
    parameter element would get two different values."""
    named = list(model.named_parameters())
    fresh_values = {n: p.detach().clone() for n, p in named}
    total = sum(p.numel() for _, p in named)
    if total + 1 >= SERIAL_LIMIT:
        raise ValueError(f"{total} parameters are too many to number exactly in float32")
    offset = 1
    for _, p in named:
        p.copy_(torch.arange(offset, offset + p.numel(), dtype=torch.float64).view_as(p))
        offset += p.numel()
    values = np.full(total, np.nan, dtype=np.float64)
    exported = graphs(model)
    if {g.role for g in exported} != set(trained):
        raise WeightsMismatch(f"the trained model has the graphs {', '.join(sorted(trained))}, "
                              f"this network {', '.join(sorted(g.role for g in exported))}")
    with tempfile.TemporaryDirectory() as tmp:
        for graph in exported:
            for name, serial, weight in _pairs(graph.role, _initializers(graph, Path(tmp)), trained[graph.role]):
                if serial.dtype != np.float32:  # shapes and indices folded into the graph: no weights
                    if not np.array_equal(serial, weight):
                        raise WeightsMismatch(f"{graph.role} {name}: a constant differs from this network's")
                    continue
                ids = serial.astype(np.float64).ravel()
                if not (np.all(ids == np.round(ids)) and ids.min() >= 1 and ids.max() <= total):
                    raise WeightsMismatch(f"{graph.role} {name} is not made of this network's parameters")
                idx = ids.astype(np.int64) - 1
                given = weight.astype(np.float64).ravel()
                clash = ~np.isnan(values[idx]) & (values[idx] != given)
                if clash.any():
                    raise WeightsMismatch(f"{graph.role} {name}: one parameter gets two different values")
                values[idx] = given
    untouched, start = [], 0
    for name, p in named:
        chunk = values[start:start + p.numel()]
        start += p.numel()
        if np.isnan(chunk).all():
            p.copy_(fresh_values[name])
            untouched.append(name)
        elif np.isnan(chunk).any():
            raise WeightsMismatch(f"the trained files hold only part of {name}")
        else:
            p.copy_(torch.from_numpy(chunk.reshape(p.shape)).to(p.dtype))
    return untouched


def load(config: MelodyVAEConfig, path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """The trained model at `path` (`read_init`) as parameters of a network of `config`, checked
    to give the trained files' outputs (`check_outputs`), and its lineage. The parameters the
    exported graphs do not hold (training-only heads) are left out. Raises `WeightsMismatch`."""
    weights, files, lineage = read_init(Path(path))
    model = MelodyVAE(config)
    untouched = init_from(model, weights)
    check_outputs(model, files)
    return {n: p.detach().clone() for n, p in model.named_parameters() if n not in untouched}, lineage


@torch.no_grad()
def check_outputs(model: MelodyVAE, files: dict[str, Path], *, seed: int = 0) -> float:
    """The largest difference between `model`'s graphs and the trained ONNX files on seeded random
    inputs (a batch of 3); raises `WeightsMismatch` past `TOLERANCE`."""
    import onnxruntime as ort

    rng = np.random.default_rng(seed)
    model.eval()
    worst = 0.0
    for graph in graphs(model):
        inputs = []
        for name, example in zip(graph.input_names, graph.example):
            batch_axes = [a for a, label in graph.dynamic_axes.get(name, {}).items() if label == "batch"]
            shape = tuple(3 if a in batch_axes else d for a, d in enumerate(example.shape))
            if example.dtype == torch.long:
                inputs.append(torch.from_numpy(rng.integers(0, model.cfg.vocab, shape)))
            else:
                inputs.append(torch.from_numpy(rng.standard_normal(shape).astype(np.float32)))
        expected = graph.module(*inputs)
        expected = expected if isinstance(expected, tuple) else (expected,)
        session = ort.InferenceSession(str(files[graph.role]), providers=["CPUExecutionProvider"])
        got = session.run(None, {n: t.numpy() for n, t in zip(graph.input_names, inputs)})
        for a, b in zip(expected, got):
            worst = max(worst, float(np.abs(a.numpy() - b).max()))
    if worst > TOLERANCE:
        raise WeightsMismatch(f"the loaded network differs from the trained files by {worst:.3g}")
    return worst
