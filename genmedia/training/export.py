"""Export torch modules to ONNX and write the model's metadata (hashes, tensor signatures)."""

from __future__ import annotations

import os
import platform
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
import torch

from genmedia import __version__
from genmedia.errors import ModelError
from genmedia.fileio import write_atomic
from genmedia.onnxfile import external_data
from genmedia.registry import sha256_file, write_metadata
from genmedia.schema import METADATA_VERSION, is_plain_relative

ONNX_OPSET = 17


class WeightsMismatch(ValueError):
    """Initial weights that do not fit the network being trained (`--init`, any model kind)."""


def onnx_initializers(path: Path) -> list[tuple[str, Any]]:
    """The weights stored in an ONNX file, as (name, numpy array) in file order."""
    from onnx import numpy_helper

    return [(t.name, numpy_helper.to_array(t).copy()) for t in onnx.load(str(path)).graph.initializer]


@dataclass
class Graph:
    """One module to export: example inputs and names, and which axes are dynamic."""

    role: str
    module: torch.nn.Module
    example: tuple[torch.Tensor, ...]
    input_names: list[str]
    output_names: list[str]
    dynamic_axes: dict[str, dict[int, str]]


def _signature(path: Path) -> dict[str, list[dict[str, Any]]]:
    model = onnx.load(str(path))

    def describe(values) -> list[dict[str, Any]]:
        out = []
        for value in values:
            dims = value.type.tensor_type.shape.dim
            shape = [d.dim_param or d.dim_value for d in dims]
            dtype = onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type).name
            out.append({"name": value.name, "shape": shape, "dtype": dtype})
        return out

    return {"inputs": describe(model.graph.input), "outputs": describe(model.graph.output)}


def export_graph(graph: Graph, path: Path, *, overwrite: bool) -> None:
    """Export one module to `path` atomically (the legacy TorchScript exporter, fixed opset)."""
    graph.module.eval()

    def writer(tmp: Path) -> None:
        # Tracing turns torch's own shape checks (e.g. in nn.LSTM) into constants and says so.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            # An LSTM with implicit zero state and a dynamic batch exports correctly; the parity
            # tests run batches larger than the example's to prove it.
            warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size other than 1")
            torch.onnx.export(
                graph.module, graph.example, str(tmp), input_names=graph.input_names,
                output_names=graph.output_names, dynamic_axes=graph.dynamic_axes,
                opset_version=ONNX_OPSET, dynamo=False,
            )
        onnx.checker.check_model(str(tmp))

    write_atomic(path, writer, overwrite=overwrite)


def _file_entry(path: Path, name: str) -> dict[str, Any]:
    return {"path": name, "sha256": sha256_file(path), "bytes": path.stat().st_size}


def _external_data_entries(role: str, path: Path) -> dict[str, dict[str, Any]]:
    """Entries (role 'ROLE.data.N') for the external data files the ONNX file at `path` uses: torch
    writes a model's weights outside it past protobuf's 2 GB limit, and the registry loads a model
    only if every file it reads is listed with its sha256."""
    entries = {}
    try:
        locations = dict.fromkeys(ref.location for ref in external_data(path.read_bytes()))
    except ValueError as exc:
        raise ModelError(f"{path}: {exc}") from None
    for i, location in enumerate(locations):
        if not is_plain_relative(location):
            raise ModelError(f"{path}: its external data location {location!r} is not a plain relative path")
        entries[f"{role}.data.{i}"] = _file_entry(path.parent / location, location)
    return entries


def export_model(*, name: str, task: str, out_dir: Path, graphs: list[Graph], metadata: dict[str, Any],
                 overwrite: bool = False) -> Path:
    """Export every graph as `NAME.ROLE.onnx` in `out_dir` and write `NAME.json`; return its path."""
    out_dir = Path(out_dir)
    files, tensors = {}, {}
    for graph in graphs:
        path = out_dir / f"{name}.{graph.role}.onnx"
        export_graph(graph, path, overwrite=overwrite)
        files[graph.role] = _file_entry(path, path.name)
        files.update(_external_data_entries(graph.role, path))
        tensors[graph.role] = _signature(path)
    meta = {
        "format_version": METADATA_VERSION, "name": name, "task": task, "files": files, "tensors": tensors,
        **metadata,
        "exported_with": {"genmedia": __version__, "torch": torch.__version__, "onnx": onnx.__version__,
                          "opset": ONNX_OPSET, "python": platform.python_version(), "cpus": os.cpu_count()},
    }
    meta_path = out_dir / f"{name}.json"
    return write_metadata(meta_path, meta, overwrite=overwrite)
