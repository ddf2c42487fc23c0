"""Hostile models and checkpoints: tampered or unlisted files, escaping paths, endless files,
malformed metadata, bad files among good ones, crafted pickles. Each is refused in one line."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from genmedia.cli import cli
from genmedia.errors import InputError, ModelError
from genmedia.registry import MAX_METADATA_BYTES, ModelInfo, get_model, list_models, load_info, scan_models
from genmedia.resources import resource_dir
from genmedia.runtime import OnnxModel

SHIPPED = ["smb-level-vae", "melody-2bar", "melody-16bar", "denoise-unet"]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def entry(path: Path) -> dict[str, Any]:
    return {"path": path.name, "sha256": sha(path), "bytes": path.stat().st_size}


def write_meta(path: Path, files: dict[str, Any], **extra: Any) -> Path:
    meta = {"format_version": 1, "name": path.stem, "task": "test", "files": files, **extra}
    path.write_text(json.dumps(meta))
    return path


def copy_model(name: str, folder: Path) -> Path:
    """The shipped model `name` (metadata and files) copied into `folder`; its metadata path."""
    src = resource_dir("models")
    folder.mkdir(parents=True, exist_ok=True)
    for f in src.glob(f"{name}.*"):
        shutil.copy(f, folder / f.name)
    return folder / f"{name}.json"


def refused(call: Callable[[], Any], *needles: str) -> str:
    """The one-line ModelError message of `call()`, checked to contain every needle."""
    with pytest.raises(ModelError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message
    return message


def within(seconds: float, call: Callable[[], Any]) -> Any:
    """`call()`'s outcome (result or exception), failing the test if it takes over `seconds`."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # handed back to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)  # a hung read cannot keep pytest alive
    thread.start()
    thread.join(seconds)
    assert outcome, f"still running after {seconds} s"
    return outcome[0]


# --- external data --------------------------------------------------------------------------------

@pytest.fixture
def external_model(tmp_path: Path) -> Path:
    """A MatMul model whose weights live in an external data file, both listed with hashes."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.arange(64 * 64, dtype=np.float32).reshape(64, 64) / 4096, "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])], [weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, str(tmp_path / "ext.net.onnx"), save_as_external_data=True, location="ext.data",
              size_threshold=0)
    return write_meta(tmp_path / "ext.json", {"net": entry(tmp_path / "ext.net.onnx"),
                                              "net.data": entry(tmp_path / "ext.data")})


def run_external(meta: Path) -> np.ndarray:
    net = OnnxModel(get_model(meta, task="test").file("net"))
    return net.run(x=np.ones((1, 64), np.float32))["y"]


def test_a_model_with_listed_external_data_loads_and_runs(external_model):
    expected = (np.arange(64 * 64, dtype=np.float32).reshape(64, 64) / 4096).sum(0)
    assert np.allclose(run_external(external_model)[0], expected)


def test_replaced_external_weights_are_refused(external_model):
    data = external_model.parent / "ext.data"
    data.write_bytes(np.full(64 * 64, 7, np.float32).tobytes())  # same size, other weights
    refused(lambda: run_external(external_model), str(data), "sha256 does not match")


def test_unlisted_external_data_is_refused(external_model):
    meta = json.loads(external_model.read_text())
    del meta["files"]["net.data"]
    external_model.write_text(json.dumps(meta))
    refused(lambda: run_external(external_model), "ext.net.onnx", "'ext.data'", "does not list")


def test_external_data_outside_the_folder_is_refused(external_model, tmp_path):
    onnx = pytest.importorskip("onnx")
    folder = tmp_path / "inner"
    folder.mkdir()
    model = onnx.load(str(external_model.parent / "ext.net.onnx"), load_external_data=False)
    for item in model.graph.initializer[0].external_data:
        if item.key == "location":
            item.value = "../ext.data"  # a real, hashed file, but not one this model lists
    (folder / "ext.net.onnx").write_bytes(model.SerializeToString())
    meta = write_meta(folder / "ext.json", {"net": entry(folder / "ext.net.onnx")})
    refused(lambda: run_external(meta), "'../ext.data'", "does not list")


def field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field. Appended to a serialised message it adds to a repeated
    field, replaces a string (the last one wins) and merges into a message field."""
    length, size = b"", len(payload)
    while True:
        length += bytes([size & 0x7F | (0x80 if size > 0x7F else 0)])
        size >>= 7
        if not size:
            break
    return bytes([number << 3 | 2]) + length + payload


def matmul_with_external_entries(entries: list[bytes]) -> bytes:
    """The bytes of a 64 x 64 MatMul model whose weight tensor's external_data entries are `entries`
    (serialised StringStringEntryProto messages), appended after the serialised graph."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    tensor = onnx.TensorProto(name="w", dims=[64, 64], data_type=TensorProto.FLOAT,
                              data_location=TensorProto.EXTERNAL).SerializeToString()
    tensor += b"".join(field(13, entry) for entry in entries)
    return model.SerializeToString() + field(7, field(5, tensor))  # ModelProto.graph.initializer


def entry_bytes(key: str, value: str) -> bytes:
    return field(1, key.encode()) + field(2, value.encode())


def test_an_entry_naming_a_second_location_is_refused(external_model):
    """protobuf keeps an entry's last value, so a file whose location entry names the listed file
    first and another one last loads the other one: every value of every entry is read."""
    onnx = pytest.importorskip("onnx")
    folder = external_model.parent
    (folder / "ghost.data").write_bytes(np.full(64 * 64, 9, np.float32).tobytes())  # unlisted weights
    data = matmul_with_external_entries([entry_bytes("location", "ext.data") + field(2, b"ghost.data"),
                                         entry_bytes("offset", "0"), entry_bytes("length", str(64 * 64 * 4))])
    assert [e.value for e in onnx.ModelProto.FromString(data).graph.initializer[0].external_data][0] == "ghost.data"
    (folder / "ext.net.onnx").write_bytes(data)
    meta = write_meta(external_model, {"net": entry(folder / "ext.net.onnx"), "net.data": entry(folder / "ext.data")})
    refused(lambda: run_external(meta), "ext.net.onnx", "'ghost.data'", "does not list")
    # Two location entries (ONNX Runtime reads the last) and a location key given twice are read too.
    for entries in ([entry_bytes("location", "ext.data"), entry_bytes("location", "ghost.data")],
                    [entry_bytes("location", "ext.data") + field(1, b"location") + field(2, b"ghost.data")]):
        (folder / "ext.net.onnx").write_bytes(matmul_with_external_entries(entries))
        meta = write_meta(external_model, {"net": entry(folder / "ext.net.onnx"),
                                           "net.data": entry(folder / "ext.data")})
        refused(partial(run_external, meta), "'ghost.data'", "does not list")


@pytest.mark.parametrize("entries, needle", [
    ([entry_bytes("location", "*/_ORT_MEM_ADDR_/*"), entry_bytes("offset", "4096")], "memory address"),
    ([entry_bytes("location", "ext.data"), entry_bytes("offset", "16380"), entry_bytes("length", "64")],
     "up to byte 16,444 of 'ext.data', which has 16,384 bytes"),
    ([entry_bytes("location", "ext.data"), entry_bytes("offset", "-4")], "offset '-4' that is not a whole number"),
    ([entry_bytes("location", "ext.data"), entry_bytes("basepath", "/etc")], "key 'basepath'"),
    ([entry_bytes("location", "ext.data") + field(3, b"x")], "an external data entry genmedia cannot read"),
])
def test_external_data_entries_are_read_whole(external_model, entries, needle):
    folder = external_model.parent
    (folder / "ext.net.onnx").write_bytes(matmul_with_external_entries(entries))
    meta = write_meta(external_model, {"net": entry(folder / "ext.net.onnx"), "net.data": entry(folder / "ext.data")})
    refused(lambda: run_external(meta), "ext.net.onnx", needle)


def test_external_data_of_a_node_attribute_is_found(tmp_path):
    """References are read from the ONNX structure, so a Constant node's tensor counts as much as an
    initializer (and a file that is not ONNX at all is refused, not taken to have none)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    value = numpy_helper.from_array(np.eye(64, dtype=np.float32), "c")
    nodes = [helper.make_node("Constant", [], ["w"], value=value), helper.make_node("MatMul", ["x", "w"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, str(tmp_path / "c.onnx"), save_as_external_data=True, location="const.data", size_threshold=0,
              convert_attribute=True)
    assert not model.graph.initializer and (tmp_path / "const.data").exists()
    meta = write_meta(tmp_path / "c.json", {"net": entry(tmp_path / "c.onnx")})
    refused(lambda: load_info(meta).file("net"), "'const.data'", "does not list")
    (tmp_path / "c.onnx").write_bytes(b"\x00" * 64)  # field number 0: not protobuf
    meta = write_meta(tmp_path / "c.json", {"net": entry(tmp_path / "c.onnx")})
    refused(lambda: load_info(meta).file("net"), "is not an ONNX file genmedia can read")


def test_external_data_swapped_after_its_check_is_never_read(external_model, monkeypatch):
    """The session is built in a private folder holding copies of the verified files, made while
    they are hashed again: a file swapped in the model's folder afterwards is not what runs."""
    import onnxruntime

    data = external_model.parent / "ext.data"
    net = get_model(external_model, task="test").file("net")  # verified now
    real = onnxruntime.InferenceSession

    def swap_then_build(model, *args, **kwargs):
        assert Path(model).parent != net.parent  # loaded from the private folder
        data.write_bytes(np.full(64 * 64, 7, np.float32).tobytes())  # same size, other weights
        return real(model, *args, **kwargs)

    monkeypatch.setattr(onnxruntime, "InferenceSession", swap_then_build)
    y = OnnxModel(net).run(x=np.ones((1, 64), np.float32))["y"]
    assert np.allclose(y[0], (np.arange(64 * 64, dtype=np.float32).reshape(64, 64) / 4096).sum(0))
    assert not any(Path(tempfile.gettempdir()).glob("genmedia-onnx-*"))  # the private folder is gone


def test_external_data_swapped_after_the_registry_check_is_refused(external_model):
    data = external_model.parent / "ext.data"
    net = get_model(external_model, task="test").file("net")  # verified now
    data.write_bytes(np.full(64 * 64, 7, np.float32).tobytes())
    refused(lambda: OnnxModel(net), str(data.resolve()), "changed after its sha256 was verified")


def test_an_onnx_file_swapped_after_its_check_is_not_loaded(tmp_path):
    meta = copy_model("smb-level-vae", tmp_path)
    info = load_info(meta)
    decoder = info.file("decoder")  # verified now
    encoder = tmp_path / "smb-level-vae.encoder.onnx"
    shutil.copy(encoder, decoder)  # a valid graph, but not the verified one
    refused(lambda: OnnxModel(decoder), str(decoder.resolve()), "changed after its sha256 was verified")


# --- paths in metadata ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["../x.onnx", "a/../../x.onnx", "/etc/passwd", "./x.onnx", "", "C:/x.onnx",
                                  "a\\..\\x.onnx", "a//x.onnx"])
def test_paths_that_are_not_plain_relative_names_are_refused(tmp_path, path):
    (tmp_path / "x.onnx").write_bytes(b"x")
    (tmp_path / "m").mkdir()
    meta = write_meta(tmp_path / "m" / "bad.json", {"net": {"path": path, "sha256": "0" * 64, "bytes": 1}})
    refused(lambda: load_info(meta), str(meta), "'files.net.path'", "relative path")


def test_a_symlink_out_of_the_folder_is_refused(tmp_path):
    outside = tmp_path / "outside.onnx"
    outside.write_bytes(b"secret")
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "net.onnx").symlink_to(outside)
    meta = write_meta(folder / "m.json", {"net": {"path": "net.onnx", "sha256": sha(outside), "bytes": 6}})
    refused(lambda: load_info(meta).file("net"), str(folder / "net.onnx"), "outside the model's folder")


def test_a_symlink_inside_the_folder_is_followed(tmp_path):
    (tmp_path / "real.npy").write_bytes(b"data")
    (tmp_path / "link.npy").symlink_to("real.npy")
    meta = write_meta(tmp_path / "m.json", {"prior": {"path": "link.npy", "sha256": sha(tmp_path / "real.npy"),
                                                      "bytes": 4}})
    assert load_info(meta).file("prior") == tmp_path / "link.npy"


# --- files that never end or block -----------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_as_a_model_file_is_refused_at_once(tmp_path):
    os.mkfifo(tmp_path / "net.onnx")
    meta = write_meta(tmp_path / "m.json", {"net": {"path": "net.onnx", "sha256": "0" * 64, "bytes": 0}})
    outcome = within(5, lambda: load_info(meta).file("net"))
    assert isinstance(outcome, ModelError) and "not a regular file" in str(outcome)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_as_metadata_does_not_hang_models_list(tmp_path, monkeypatch):
    os.mkfifo(tmp_path / "stuck.json")
    monkeypatch.setenv("GENMEDIA_MODELS_PATH", str(tmp_path))
    models, errors = within(5, scan_models)
    assert "smb-level-vae" in {m.name for m in models}
    assert [str(e) for e in errors] == [f"{tmp_path / 'stuck.json'}: is a FIFO (named pipe), not a regular file"]


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_dev_zero_is_refused_at_once_as_metadata_and_as_a_model_file(tmp_path):
    outcome = within(5, lambda: get_model("/dev/zero", task="level"))
    assert isinstance(outcome, ModelError) and str(outcome) == "/dev/zero: is a character device, not a regular file"
    (tmp_path / "zero.onnx").symlink_to("/dev/zero")
    meta = write_meta(tmp_path / "m.json", {"net": {"path": "zero.onnx", "sha256": "0" * 64, "bytes": 10}})
    outcome = within(5, lambda: load_info(meta).file("net"))
    assert isinstance(outcome, ModelError) and "outside the model's folder" in str(outcome)


def test_a_folder_as_a_model_file_is_refused(tmp_path):
    (tmp_path / "net.onnx").mkdir()
    meta = write_meta(tmp_path / "m.json", {"net": {"path": "net.onnx", "sha256": "0" * 64, "bytes": 0}})
    refused(lambda: load_info(meta).file("net"), f"{tmp_path / 'net.onnx'}: is a folder, not a model file")


def test_a_wrong_size_is_refused_before_hashing(tmp_path, monkeypatch):
    from genmedia import registry

    (tmp_path / "net.onnx").write_bytes(b"12345")
    meta = write_meta(tmp_path / "m.json", {"net": {"path": "net.onnx", "sha256": sha(tmp_path / "net.onnx"),
                                                    "bytes": 4}})
    monkeypatch.setattr(registry, "_hash_and_scan", lambda *a: pytest.fail("hashed a file of the wrong size"))
    refused(lambda: load_info(meta).file("net"), "is 5 bytes but the model's metadata says 4")


def test_every_listed_file_is_verified_not_only_the_one_asked_for(tmp_path):
    meta = copy_model("melody-2bar", tmp_path)
    prior = tmp_path / "melody-2bar.prior.npy"
    data = bytearray(prior.read_bytes())
    data[-1] ^= 1
    prior.write_bytes(bytes(data))
    refused(lambda: load_info(meta).file("encoder"), str(prior), "sha256 does not match")


# --- malformed metadata ---------------------------------------------------------------------------

def level_meta() -> dict[str, Any]:
    return json.loads((resource_dir("models") / "smb-level-vae.json").read_text())


def without(keys: tuple[str, ...]) -> dict[str, Any]:
    meta = level_meta()
    parent = meta
    for key in keys[:-1]:
        parent = parent[key]
    del parent[keys[-1]]
    return meta


def replaced(keys: tuple[str, ...], value: Any) -> dict[str, Any]:
    meta = level_meta()
    parent = meta
    for key in keys[:-1]:
        parent = parent[key]
    parent[keys[-1]] = value
    return meta


MALFORMED = {
    "missing sha256": (without(("files", "decoder", "sha256")), "'files.decoder.sha256' is missing"),
    "missing path": (without(("files", "decoder", "path")), "'files.decoder.path' is missing"),
    "missing bytes": (without(("files", "decoder", "bytes")), "'files.decoder.bytes' is missing"),
    "missing name": (without(("name",)), "'name' is missing"),
    "missing files": (without(("files",)), "'files' is missing"),
    "missing version": (without(("format_version",)), "'format_version' is missing"),
    "sha256 a number": (replaced(("files", "decoder", "sha256"), 5), "'files.decoder.sha256' must be 64 lowercase"),
    "sha256 upper case": (replaced(("files", "decoder", "sha256"), "A" * 64), "'files.decoder.sha256' must be"),
    "sha256 short": (replaced(("files", "decoder", "sha256"), "a" * 63), "'files.decoder.sha256' must be"),
    "bytes a string": (replaced(("files", "decoder", "bytes"), "633333"), "'files.decoder.bytes' must be"),
    "bytes negative": (replaced(("files", "decoder", "bytes"), -1), "'files.decoder.bytes' must be"),
    "bytes a bool": (replaced(("files", "decoder", "bytes"), True), "'files.decoder.bytes' must be"),
    "path a list": (replaced(("files", "decoder", "path"), ["x"]), "'files.decoder.path' must be"),
    "name a number": (replaced(("name",), 3), "'name' must be a non-empty string"),
    "task null": (replaced(("task",), None), "'task' must be a non-empty string"),
    "files a list": (replaced(("files",), [1, 2]), "'files' must be an object"),
    "files a string": (replaced(("files",), "x.onnx"), "'files' must be an object"),
    "file entry a string": (replaced(("files", "decoder"), "x.onnx"), "'files.decoder' must be an object"),
    "version a string": (replaced(("format_version",), "1"), 'unsupported metadata format "1"'),
    "version true": (replaced(("format_version",), True), "unsupported metadata format true"),
    "version 2": (replaced(("format_version",), 2), "unsupported metadata format 2"),
    "rows missing": (without(("rows",)), "'rows' is missing"),
    "rows a float": (replaced(("rows",), 14.5), "'rows' must be a whole number"),
    "latent channels a string": (replaced(("latent", "channels"), "16"), "'latent.channels' must be"),
    "vocabulary chars a number": (replaced(("vocabulary", "chars"), 13), "'vocabulary.chars' must be"),
    "prior bandwidth missing": (without(("prior", "bandwidth")), "'prior.bandwidth' is missing"),
    "prior sequences ragged": (replaced(("prior", "sequences"), [[[1, 2], [3]]]), "'prior.sequences' must be"),
    "description a number": (replaced(("description",), 1), "'description' must be a string"),
    "nested too deep to check": ({**level_meta(), "extra": json.loads("[" * 100 + "]" * 100)}, "nested over"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_metadata_is_one_model_error_naming_the_file_and_field(tmp_path, case):
    meta, needle = MALFORMED[case]
    path = tmp_path / "smb-level-vae.json"
    path.write_text(json.dumps(meta))
    refused(lambda: load_info(path), f"{path}: ", needle)


UNREADABLE = {
    "100000-deep arrays": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    "100000-deep objects": ('{"a":' * 100_000 + "1" + "}" * 100_000, "nested too deeply"),
    "deep inside real metadata": (json.dumps(level_meta())[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
                                  "nested too deeply"),
    "not JSON": ("{format_version: 1}", "not UTF-8 JSON"),
    "truncated": (json.dumps(level_meta())[:1000], "not UTF-8 JSON"),
    "empty": ("", "not UTF-8 JSON"),
    "not UTF-8": (b"\xff\xfe{}", "not UTF-8 JSON"),
    "a list": ("[1, 2]", "not a JSON object"),
}


@pytest.mark.parametrize("case", UNREADABLE)
def test_unreadable_metadata_is_one_model_error_naming_the_file(tmp_path, case):
    text, needle = UNREADABLE[case]
    path = tmp_path / "m.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    refused(lambda: load_info(path), f"{path}: not genmedia model metadata", needle)


def test_huge_metadata_is_refused_before_it_is_read(tmp_path, monkeypatch):
    path = tmp_path / "huge.json"
    with open(path, "wb") as handle:  # sparse: no disk is used
        handle.truncate(MAX_METADATA_BYTES + 1)
    monkeypatch.setattr(os, "read", lambda *a: pytest.fail("read a metadata file over the limit"))
    refused(lambda: load_info(path), str(path), "over the limit of 67,108,864 bytes for a model metadata file")


def test_a_missing_metadata_file(tmp_path):
    refused(lambda: get_model(tmp_path / "none.json", task="level"), f"{tmp_path / 'none.json'}: no such file")


# --- one bad file among good ones -----------------------------------------------------------------

@pytest.fixture
def bad_folder(tmp_path, monkeypatch) -> Path:
    """A folder in GENMEDIA_MODELS_PATH holding a good user model and two bad metadata files."""
    folder = tmp_path / "user"
    copy_model("melody-2bar", folder)
    meta = json.loads((folder / "melody-2bar.json").read_text())
    (folder / "melody-2bar.json").write_text(json.dumps({**meta, "name": "mine"}))
    (folder / "aaa-deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (folder / "bbb-nosha.json").write_text(json.dumps(without(("files", "decoder", "sha256"))))
    monkeypatch.setenv("GENMEDIA_MODELS_PATH", str(folder))
    return folder


def test_models_list_reports_bad_files_in_one_line_each_lists_the_rest_and_fails(bad_folder):
    result = CliRunner().invoke(cli, ["models", "list"], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "mine  [melody]" in result.stdout and "smb-level-vae  [level]" in result.stdout
    assert result.stderr.splitlines() == [
        f"error: {bad_folder / 'aaa-deep.json'}: not genmedia model metadata (JSON nested too deeply)",
        f"error: {bad_folder / 'bbb-nosha.json'}: field 'files.decoder.sha256' is missing",
    ]
    listed = CliRunner().invoke(cli, ["models", "list", "--json"], catch_exceptions=False)
    assert listed.exit_code == 1
    assert {"mine", "smb-level-vae"} <= {m["name"] for m in json.loads(listed.stdout)}


def test_models_verify_reports_bad_files_and_fails(bad_folder):
    result = CliRunner().invoke(cli, ["models", "verify"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "ok     mine encoder" in result.stdout and "ok     smb-level-vae decoder" in result.stdout
    ok = len(result.stdout.splitlines())
    models = len({line.split()[1] for line in result.stdout.splitlines()})
    deep, nosha = bad_folder / "aaa-deep.json", bad_folder / "bbb-nosha.json"
    assert result.stderr.splitlines() == [
        f"error: {deep}: not genmedia model metadata (JSON nested too deeply)",
        f"error: {nosha}: field 'files.decoder.sha256' is missing",
        f"done {ok}, failed 2; {models} models",
        f"failed: {deep}, {nosha}",
    ]


def test_models_verify_names_a_corrupt_file_and_checks_the_rest(tmp_path, monkeypatch):
    folder = tmp_path / "user"
    copy_model("melody-2bar", folder)
    meta = json.loads((folder / "melody-2bar.json").read_text())
    (folder / "melody-2bar.json").write_text(json.dumps({**meta, "name": "mine"}))
    decoder = folder / meta["files"]["decoder_step"]["path"]
    data = bytearray(decoder.read_bytes())
    data[-10] ^= 0xFF
    decoder.write_bytes(bytes(data))
    monkeypatch.setenv("GENMEDIA_MODELS_PATH", str(folder))
    result = CliRunner().invoke(cli, ["models", "verify"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "ok     mine encoder" in result.stdout and "mine decoder_step" not in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 3 and lines[0].startswith(f"error: {decoder}: sha256 does not match"), lines
    assert lines[1].startswith(f"done {len(result.stdout.splitlines())}, failed 1; ")
    assert lines[2] == f"failed: {decoder}"
    fine = CliRunner().invoke(cli, ["models", "verify"], catch_exceptions=False, env={"GENMEDIA_MODELS_PATH": ""})
    assert fine.exit_code == 0 and fine.stderr == f"done {len(fine.stdout.splitlines())}, failed 0; " \
        f"{len({line.split()[1] for line in fine.stdout.splitlines()})} models\n"


def test_commands_that_load_a_model_ignore_an_unrelated_bad_file(bad_folder, tmp_path):
    result = CliRunner().invoke(cli, ["level", "sample", "--count", "1", "--width", "32", "--seed", "0",
                                      "-o", str(tmp_path / "out")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "out").glob("*.txt"))
    assert "mine" in {m.name for m in list_models("melody")}
    assert get_model("mine", task="melody").metadata_path == bad_folder / "melody-2bar.json"


def test_an_unknown_name_mentions_the_unreadable_files(bad_folder):
    refused(lambda: get_model("nope", task="melody"), "no melody model named 'nope'",
            "2 metadata file(s) could not be read")


# --- fuzzing the shipped metadata ----------------------------------------------------------------

FUZZ_VALUES: list[Any] = [None, 0, -1, 7, 2**70, 1.5, float("nan"), float("inf"), "", "x", "a" * 64, [], {},
                          True, [1, "x"], {"path": "x"}]


def fuzz_paths(value: Any, at: tuple = ()) -> list[tuple]:
    """Every place in `value` (lists: their first three items)."""
    found = [at]
    if isinstance(value, dict):
        for key, child in value.items():
            found += fuzz_paths(child, (*at, key))
    elif isinstance(value, list):
        for i, child in enumerate(value[:3]):
            found += fuzz_paths(child, (*at, i))
    return found


def mutate(meta: Any, rng: random.Random) -> Any:
    """`meta` with one place dropped, retyped or wrapped in nesting."""
    places = fuzz_paths(meta)[1:]
    if not places:
        return rng.choice(FUZZ_VALUES)
    at = rng.choice(places)
    parent = meta
    for key in at[:-1]:
        parent = parent[key]
    op = rng.randrange(3)
    if op == 0:
        del parent[at[-1]]
    elif op == 1:
        parent[at[-1]] = rng.choice(FUZZ_VALUES)
    else:
        value = parent[at[-1]]
        for _ in range(rng.choice([1, 2, 5, 40, 200])):  # deeper would overflow json.dumps here
            value = [value] if rng.random() < 0.5 else {"k": value}
        parent[at[-1]] = value
    return meta


def fuzzed_text(original: dict[str, Any], rng: random.Random) -> bytes:
    if rng.random() < 0.2:  # damage the bytes themselves
        data = bytearray(json.dumps(original).encode())
        if rng.random() < 0.5:
            return bytes(data[:rng.randrange(len(data))])
        data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    meta = json.loads(json.dumps(original))
    for _ in range(rng.randrange(1, 4)):
        meta = mutate(meta, rng)
    return json.dumps(meta).encode()


def build(info: ModelInfo) -> None:
    """Everything that reads a model's metadata: its model class (which also checks the metadata
    against the graphs), its prior, its reference statistics, and one small run."""
    rng = np.random.default_rng(0)
    if info.task == "level":
        from genmedia.levels.metrics import Reference
        from genmedia.levels.model import LevelModel
        from genmedia.levels.prior import load_prior as level_prior

        level = LevelModel(info)
        z = level_prior(info.metadata, level.latent).sample(rng, 2)
        assert level.decode(z[None], width=16, biased=True)[0].shape == (level.rows, 16)
        if "reference" in info.metadata:
            Reference.from_json(info.metadata["reference"])
    elif info.task == "melody":
        from genmedia.melody.model import MelodyModel
        from genmedia.melody.prior import load_prior as melody_prior

        melody = MelodyModel(info)
        assert melody_prior(info, melody.latent).sample(rng, 2).shape == (2, melody.latent)
    else:
        from genmedia.image.denoise import Denoiser

        assert Denoiser(info).denoise(np.zeros((8, 8, 3), np.uint8), sigma=10).shape == (8, 8, 3)


def test_fuzzed_shipped_metadata_builds_its_model_or_is_one_model_error(tmp_path):
    """Mutated metadata either loads, verifies and builds its model (see `build`), or raises a
    one-line ModelError naming the file; no other exception escapes. Each model gets at most 200
    tries or 1.5 s."""
    rng, counts = random.Random(20240607), {"built": 0, "refused": 0}
    for name in SHIPPED:
        meta_path = copy_model(name, tmp_path / name)
        build(load_info(meta_path))  # sessions load once, before the clock starts
        original, deadline = json.loads(meta_path.read_text()), time.monotonic() + 1.5
        for _ in range(200):
            meta_path.write_bytes(fuzzed_text(original, rng))
            try:
                info = get_model(meta_path, task=original["task"])
                assert isinstance(info.name, str) and isinstance(info.files, dict)
                info.verify()
                build(info)
                counts["built"] += 1
            except ModelError as exc:
                assert str(meta_path.parent) in str(exc) and "\n" not in str(exc), str(exc)
                counts["refused"] += 1
            if time.monotonic() > deadline:
                break
    assert counts["built"] > 50 and counts["refused"] > 50, counts


SCHEMA_GAPS = {  # each of these once reached a model class, a prior or `level eval` and raised a traceback
    "tile bias not a number": (replaced(("decoding", "tile_bias", "E"), "x"), "'decoding.tile_bias' must be"),
    "tile bias not finite": (replaced(("decoding", "tile_bias", "E"), float("inf")), "'decoding.tile_bias' must be"),
    "tile bias for a tile not in the vocabulary": (replaced(("decoding", "tile_bias", "Z"), 1.0),
                                                   "names tile \"Z\", which is not in vocabulary.chars"),
    "decoding a list": (replaced(("decoding",), []), "'decoding' must be an object"),
    "rows over rows_padded": (replaced(("rows",), 17), "'rows' must be at most rows_padded (16), not 17"),
    "prior rows not the latent size": (replaced(("prior", "sequences"), [[[0.0, 1.0]] * 15]),
                                       "'prior.sequences.0' must have latent.channels (16) rows, not 15"),
    "jump probability over 1": (replaced(("prior", "jump_probability"), 2), "'prior.jump_probability' must be"),
    "same-map chance negative": (replaced(("prior", "same_map"), -0.5), "'prior.same_map' must be"),
    "two-character tile": (replaced(("vocabulary", "chars", 0), "XX"), "'vocabulary.chars' must be"),
    "repeated tile": (replaced(("vocabulary", "chars", 1), "X"), "'vocabulary.chars' must be"),
    "non-ASCII tile": (replaced(("vocabulary", "chars", 1), "é"), "'vocabulary.chars' must be"),
    "reference window": (replaced(("reference", "window_columns"), 8), "'reference.window_columns' must be 16"),
    "reference without 3x3 patterns": (without(("reference", "patterns", "3")), "'reference.patterns.3' is missing"),
    "reference pattern not ASCII": (replaced(("reference", "patterns", "2", "é---"), 1), "'reference.patterns.2'"),
    "reference pattern of the wrong size": (replaced(("reference", "patterns", "2", "---"), 1),
                                            "'reference.patterns.2' must be an object of 4-tile"),
    "reference points not pairs": (replaced(("reference", "points"), [[1.0]]), "'reference.points' must be"),
    "reference without windows": (without(("reference", "windows")), "'reference.windows' is missing"),
    "reference diversity a string": (replaced(("reference", "diversity"), "x"), "'reference.diversity' must be"),
    "latent channels huge": (replaced(("latent", "channels"), 2**70), "'latent.channels' must be a whole number"),
}


@pytest.mark.parametrize("case", SCHEMA_GAPS)
def test_fields_the_level_model_reads_are_checked(tmp_path, case):
    meta, needle = SCHEMA_GAPS[case]
    path = tmp_path / "smb-level-vae.json"
    path.write_text(json.dumps(meta))
    refused(lambda: load_info(path), f"{path}: field ", needle)


def melody_meta(name: str = "melody-16bar") -> dict[str, Any]:
    return json.loads((resource_dir("models") / f"{name}.json").read_text())


@pytest.mark.parametrize("change, needle", [
    (lambda m: m["decoder"].update(kind="recurrent"), "'decoder.kind' must be 'flat' or 'hierarchical'"),
    (lambda m: m["decoder"].update(bars=15), "'decoder.bars' must divide steps (256) into whole bars, not 15"),
    (lambda m: m["decoder"].update(steps_per_bar=512), "'decoder.steps_per_bar' must be at most steps (256)"),
    (lambda m: m["vocabulary"].update(start_token=51), "'vocabulary.start_token' must be at most vocabulary.size"),
    (lambda m: m["prior"].update(bandwidth=-1), "'prior.bandwidth' must be a finite number >= 0"),
    (lambda m: m["files"].pop("prior"), "'files.prior' is missing"),
    (lambda m: m.update(steps=2**40), "'steps' must be a whole number from 1 to 65,536"),
])
def test_fields_the_melody_model_reads_are_checked(tmp_path, change, needle):
    meta = melody_meta()
    change(meta)
    path = tmp_path / "melody-16bar.json"
    path.write_text(json.dumps(meta))
    refused(lambda: load_info(path), f"{path}: field ", needle)


def test_metadata_that_disagrees_with_its_graphs_is_refused_when_the_model_is_built(tmp_path):
    from genmedia.levels.model import LevelModel
    from genmedia.melody.model import MelodyModel

    meta = copy_model("smb-level-vae", tmp_path / "level")
    data = json.loads(meta.read_text())
    data["vocabulary"]["chars"].remove("b")  # 12 tiles for a 13-tile graph
    meta.write_text(json.dumps(data))
    refused(lambda: LevelModel(load_info(meta)), f"{meta}: field 'vocabulary.chars' is 12, but "
                                                 "smb-level-vae.encoder.onnx has 13 on axis 1 of 'tiles'")
    meta = copy_model("melody-16bar", tmp_path / "melody")
    data = json.loads(meta.read_text())
    data["decoder"]["bars"], data["steps"] = 8, 128
    meta.write_text(json.dumps(data))
    refused(lambda: MelodyModel(load_info(meta)), f"{meta}: field 'steps' is 128, but melody-16bar.encoder.onnx "
                                                  "has 256 on axis 1 of 'tokens'")


def test_a_prior_file_of_the_wrong_shape_is_one_model_error(tmp_path):
    from genmedia.melody.model import MelodyModel
    from genmedia.melody.prior import load_prior

    meta = copy_model("melody-2bar", tmp_path)
    prior = tmp_path / "melody-2bar.prior.npy"
    size = json.loads(meta.read_text())["latent"]["size"]
    for array, needle in ((np.zeros((4, size - 1), np.float32),
                           f"shape (4, {size - 1}); this model's prior needs (windows, {size})"),
                          (np.array(["a", "b"]), "holds <U1 values, not numbers")):
        np.save(prior, array, allow_pickle=False)
        data = json.loads(meta.read_text())
        data["files"]["prior"] = entry(prior)
        meta.write_text(json.dumps(data))
        info = load_info(meta)
        refused(lambda info=info: load_prior(info, MelodyModel(info).latent), str(prior), needle)
    prior.write_bytes(b"\x93NUMPY\x01\x00garbage")
    data["files"]["prior"] = entry(prior)
    meta.write_text(json.dumps(data))
    info = load_info(meta)
    refused(lambda: load_prior(info, size), f"{prior}: not a prior's .npy file")


# --- torch checkpoints --------------------------------------------------------------------------

class Payload:
    """Unpickling this with weights_only=False would create a folder: code run from a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


@pytest.fixture
def crafted(tmp_path) -> tuple[Path, Path]:
    torch = pytest.importorskip("torch")
    marker, path = tmp_path / "ran", tmp_path / "crafted.pt"
    torch.save({"model": {"w": Payload(marker)}, "optimiser": {}, "step": 0, "rng": {}}, path)
    torch.load(path, weights_only=False)  # the payload is live: this is what must never happen
    assert marker.is_dir()
    marker.rmdir()
    return path, marker


@pytest.mark.torch
def test_a_crafted_init_checkpoint_is_refused_without_running_code(crafted):
    from genmedia.training.denoiser import read_weights

    path, marker = crafted
    with pytest.raises(InputError) as caught:
        read_weights(path)
    assert str(caught.value) == f"{path}: not a denoiser's .onnx file or a training checkpoint"
    assert not marker.exists()


@pytest.mark.torch
def test_a_crafted_resume_checkpoint_is_refused_without_running_code(crafted):
    torch = pytest.importorskip("torch")
    from genmedia.training.loop import fit

    path, marker = crafted
    model = torch.nn.Linear(2, 2)
    with pytest.raises(InputError) as caught:
        fit(model, torch.optim.Adam(model.parameters()), lambda step, rng: (model.weight.sum(), {}), steps=2,
            lr=0.1, seed=0, checkpoint=path)
    assert str(caught.value).startswith(f"{path}: not a training checkpoint") and "\n" not in str(caught.value)
    assert not marker.exists()


@pytest.mark.torch
def test_a_checkpoint_that_does_not_fit_is_one_line(tmp_path):
    torch = pytest.importorskip("torch")
    from genmedia.training.loop import fit

    path = tmp_path / "other.pt"
    torch.save({"model": {"w": torch.zeros(3)}, "optimiser": {}, "step": 1, "rng": {}}, path)
    model = torch.nn.Linear(2, 2)
    with pytest.raises(InputError) as caught:
        fit(model, torch.optim.Adam(model.parameters()), lambda step, rng: (model.weight.sum(), {}), steps=2,
            lr=0.1, seed=0, checkpoint=path)
    assert str(caught.value).startswith(f"{path}: does not fit this model and run (")
    assert "\n" not in str(caught.value)


def old_save(path, model, optimiser, step, rng) -> None:
    """`loop._save` as it was when weights_only=False loaded checkpoints (runs in progress use it)."""
    from dataclasses import asdict

    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "step": step,
                "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "config": asdict(model.cfg)}, tmp)
    tmp.replace(path)


@pytest.mark.torch
def test_a_checkpoint_in_the_earlier_format_resumes_to_the_same_weights(mini_corpus, tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from genmedia.training import loop
    from genmedia.training.level_vae import LevelVAEConfig, load_level_data, train

    data = load_level_data(mini_corpus)
    cfg = LevelVAEConfig.preset("tiny")
    cfg.steps = 4
    whole = train(data, cfg, log_every=2)
    ckpt = tmp_path / "run.pt"

    def save_then_stop(*args):
        old_save(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "_save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train(data, cfg, checkpoint=ckpt, log_every=2)
    monkeypatch.undo()
    lines: list[str] = []
    resumed = train(data, cfg, checkpoint=ckpt, log_every=2, log=lines.append)
    assert lines[0] == f"resumed from {ckpt} at step 2"
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.torch
def test_export_lists_external_data_files(tmp_path, monkeypatch):
    """A graph exported with its weights outside the .onnx file (as torch does past 2 GB) gets
    every external data file listed with its hash, so the model loads."""
    torch = pytest.importorskip("torch")
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    from genmedia.training import export

    def fake_export(graph, path, *, overwrite):
        weights = numpy_helper.from_array(np.eye(4, dtype=np.float32), "w")
        g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [weights])
        model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
        onnx.save(model, str(path), save_as_external_data=True, location="big.weights", size_threshold=0)

    monkeypatch.setattr(export, "export_graph", fake_export)
    graph = export.Graph("net", torch.nn.Identity(), (torch.zeros(1, 4),), ["x"], ["y"], {})
    meta = export.export_model(name="big", task="test", out_dir=tmp_path, graphs=[graph], metadata={})
    info = load_info(meta)
    assert info.files["net.data.0"]["path"] == "big.weights"
    net = OnnxModel(info.file("net"))
    assert np.array_equal(net.run(x=np.arange(4, dtype=np.float32)[None])["y"], np.arange(4, dtype=np.float32)[None])
