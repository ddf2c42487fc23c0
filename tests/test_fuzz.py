"""Seeded fuzzing of the readers: malformed maps, MIDI, images and ONNX files give a named error or a valid result.

Each case is a file made from a small valid one (or from scratch) by a seeded generator, so a
failure names a case that can be rerun exactly. For every case the reader must either return a
valid result or raise a `GenmediaError` whose message is one line naming the file; any other
exception, or a case slower than `CASE_SECONDS`, fails the test.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import struct
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TypeVar

import mido
import numpy as np
import pretty_midi
import pytest
from PIL import Image

from genmedia.errors import GenmediaError
from genmedia.image.io import Photo, read_photo
from genmedia.levels.tiles import SMB_CHARS, TileSet, parse_level, read_level
from genmedia.melody.midi import Melody, load_midi, melody_from_midi
from genmedia.melody.synth import synthesize
from genmedia.registry import load_info
from genmedia.resources import resource_dir

from midi_fixtures import scale_tune, write_midi

CASE_SECONDS = 2.0
SEED = 20240611
T = TypeVar("T")


@pytest.fixture(autouse=True)
def small_limits(monkeypatch) -> None:
    """Limits small enough that a mutated header cannot make a valid case slow (the defaults are
    for real files; the limits themselves are tested in test_hostile_inputs.py)."""
    monkeypatch.setenv("GENMEDIA_MAX_PIXELS", "1000000")
    monkeypatch.setenv("GENMEDIA_MAX_MIDI_SECONDS", "120")
    monkeypatch.setenv("GENMEDIA_MAX_NOTE_SECONDS", "20")


def outcome(label: str, path: Path, call: Callable[[], T]) -> T | None:
    """`call()`'s result, or None for a well-formed `GenmediaError`; fails on anything else."""
    start = time.monotonic()
    try:
        result = call()
    except GenmediaError as exc:
        message = str(exc)
        assert str(path) in message, f"{label}: the error does not name the file: {message}"
        assert "\n" not in message, f"{label}: the error is not one line: {message!r}"
        result = None
    except Exception as exc:  # the point of the test: nothing else may escape a reader
        pytest.fail(f"{label}: {type(exc).__name__}: {exc}")
    elapsed = time.monotonic() - start
    assert elapsed < CASE_SECONDS, f"{label} took {elapsed:.1f} s"
    return result


def flip(data: bytes, rng: random.Random, flips: int) -> bytes:
    out = bytearray(data)
    for _ in range(flips):
        out[rng.randrange(len(out))] ^= rng.randrange(1, 256)
    return bytes(out)


def mutations(name: str, data: bytes, rng: random.Random, count: int) -> Iterator[tuple[str, bytes]]:
    """Truncations and byte flips of `data`, half each."""
    for _ in range(count // 2):
        cut = rng.randrange(len(data))
        yield f"{name} cut at {cut}", data[:cut]
    for k in range(count - count // 2):
        flips = rng.choice((1, 1, 2, 4, 16))
        yield f"{name} flip {k} ({flips} bytes)", flip(data, rng, flips)


# Level maps -------------------------------------------------------------------------------------

SMB = TileSet(tuple(SMB_CHARS))


def map_cases(rng: random.Random) -> Iterator[tuple[str, bytes]]:
    def lines(rows: int, width: int, alphabet: str) -> list[str]:
        return ["".join(rng.choice(alphabet) for _ in range(width)) for _ in range(rows)]

    yield "empty", b""
    yield "newlines only", b"\n\r\n\n"
    yield "one wide line", b"-" * 300_000 + b"\n"
    yield "tall", b"-\n" * 5_000
    yield "wide and short", ("\n".join(["X" * 20_000] * 3)).encode()
    for k in range(40):
        yield f"random bytes {k}", rng.randbytes(rng.randrange(1, 300))
    for k in range(40):
        rows, width = rng.randrange(1, 20), rng.randrange(1, 60)
        yield f"random tiles {k}", "\n".join(lines(rows, width, SMB_CHARS)).encode()
    for k in range(30):
        printable = "".join(map(chr, range(33, 127)))
        yield f"random printable {k}", "\n".join(lines(rng.randrange(1, 15), 30, printable)).encode()
    for k in range(30):
        rows = lines(14, 40, SMB_CHARS)
        rows[rng.randrange(14)] = rows[0][: rng.randrange(40)]
        yield f"ragged {k}", "\r\n".join(rows).encode()
    base = "\n".join(lines(14, 40, SMB_CHARS)).encode() + b"\n"
    for k in range(20):
        at = rng.randrange(len(base))
        yield f"odd byte {k}", base[:at] + bytes([rng.choice((0, 0xFF, 0xC3, 0x80, 9, 32, 13))]) + base[at + 1:]
    yield from mutations("map", base, rng, 80)


def check_level(level: np.ndarray | None) -> None:
    if level is not None:
        assert level.dtype == np.uint8 and level.ndim == 2 and level.size > 0
        assert 33 <= level.min() and level.max() <= 126


def test_maps(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    for index, (label, data) in enumerate(map_cases(rng)):
        path = tmp_path / f"map-{index:03d}.txt"
        path.write_bytes(data)
        check_level(outcome(label, path, partial(read_level, path)))
        check_level(outcome(f"{label} (SMB tiles)", path, partial(read_level, path, tiles=SMB)))
        text = data.decode("latin-1")
        check_level(outcome(f"{label} (parse_level)", path, partial(parse_level, text, source=path)))


# MIDI ---------------------------------------------------------------------------------------------

def midi_bytes(midi: mido.MidiFile) -> bytes:
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def pretty_melody() -> bytes:
    """A pretty_midi file with a key, a meter, two tempi and a chord track beside the tune."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=100)
    pm.key_signature_changes.append(pretty_midi.KeySignature(2, 0.0))
    pm.time_signature_changes.append(pretty_midi.TimeSignature(3, 4, 0.0))
    tune, chords = pretty_midi.Instrument(0, name="melody"), pretty_midi.Instrument(24)
    for i, pitch in enumerate((60, 62, 64, 65, 67, 69, 71, 72)):
        tune.notes.append(pretty_midi.Note(90, pitch, i * 0.3, i * 0.3 + 0.25))
    chords.notes.extend(pretty_midi.Note(60, p, 0.0, 2.4) for p in (48, 52, 55))
    pm.instruments.extend([tune, chords])
    buffer = io.BytesIO()
    pm.write(buffer)
    return buffer.getvalue()


def one_note(*, tempo: int = 500_000, ticks: int = 480, tpb: int = 480, later_tempo: int | None = None,
             key: bytes | None = None) -> bytes:
    """A type-0 file of one note `ticks` long, optionally with a tempo change inside it."""
    midi = mido.MidiFile(type=0, ticks_per_beat=tpb)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo, time=0),
                            mido.Message("note_on", note=64, velocity=90, time=0)])
    if later_tempo is not None:
        track.append(mido.MetaMessage("set_tempo", tempo=later_tempo, time=min(ticks, 10)))
        ticks -= min(ticks, 10)
    track.append(mido.Message("note_off", note=64, velocity=0, time=ticks))
    midi.tracks.append(track)
    data = midi_bytes(midi)
    if key is not None:  # mido refuses to write a bad key signature, so it is spliced in as bytes
        at = data.index(b"\xff\x51")  # before the tempo event, with a zero delta time
        event = b"\xff\x59\x02" + key + b"\x00"
        data = data[:at] + event + data[at:]
        data = data[:18] + struct.pack(">I", struct.unpack(">I", data[18:22])[0] + len(event)) + data[22:]
    return data


def midi_cases(rng: random.Random, tmp_path: Path) -> Iterator[tuple[str, bytes]]:
    fixture = write_midi(tmp_path / "fixture.mid", [scale_tune(2), [(0, 1920, 48)]], meter=(6, 8), meta_track=1)
    bases = {"pretty_midi": pretty_melody(), "mido type 1": fixture.read_bytes(), "one note": one_note()}
    for name, data in bases.items():
        yield name, data
        yield from mutations(name, data, rng, 150)
    for k in range(20):
        yield f"MThd and random bytes {k}", b"MThd" + rng.randbytes(rng.randrange(0, 200))
    yield "tempo 0", one_note(tempo=0)
    yield "tempo 0 later", one_note(later_tempo=0)
    yield "tempo 1 later", one_note(ticks=9_000_000, tpb=1, later_tempo=1)
    for division in (b"\x00\x00", b"\x00\x01", b"\xe7\x28", b"\xff\xff"):
        data = one_note()
        yield f"division {division.hex()}", data[:12] + division + data[14:]
    for key in (b"\x14\x00", b"\x00\x05", b"\xf0\x01", b"\x07\xff"):
        yield f"key signature {key.hex()}", one_note(key=key)
    for k in range(12):
        tpb, ticks = rng.choice((1, 24, 96, 480, 960)), rng.choice((0x0FFFFFFF, 9_999_999, 10**6, 10**5))
        yield f"long note {k} ({ticks} ticks at {tpb} per beat)", one_note(ticks=ticks, tpb=tpb)
    huge = bytearray(bases["one note"])
    at = huge.index(b"\x80\x40")  # the note-off's status: its delta time is the byte(s) before it
    yield "largest delta time", bytes(huge[: at - 2]) + b"\xff\xff\xff\x7f" + bytes(huge[at:])


def check_melody(path: Path, label: str, pm) -> None:
    if pm is None:
        return
    melody = outcome(f"{label} (melody)", path, lambda: melody_from_midi(pm, source=path))
    if melody is not None:
        assert isinstance(melody, Melody) and melody.tokens.ndim == 1 and len(melody.tokens) > 0
    audio = outcome(f"{label} (synth)", path, lambda: synthesize(pm, source=path))
    if audio is not None:
        assert audio.dtype == np.float32 and np.isfinite(audio).all() and np.abs(audio).max() <= 1.0


def test_midi(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    for index, (label, data) in enumerate(midi_cases(rng, tmp_path)):
        path = tmp_path / f"midi-{index:03d}.mid"
        path.write_bytes(data)
        check_melody(path, label, outcome(label, path, partial(load_midi, path)))


# Images -------------------------------------------------------------------------------------------

def image_bases(rng: random.Random) -> dict[str, tuple[str, bytes]]:
    """Small valid files of every supported format: name -> (suffix, bytes)."""
    pixels = np.frombuffer(rng.randbytes(24 * 32 * 3), dtype=np.uint8).reshape(24, 32, 3)
    rgb, gray = Image.fromarray(pixels), Image.fromarray(pixels[..., 0])
    made = {}
    for name, image, fmt, options in (
        ("png", rgb, "PNG", {}), ("gray png", gray, "PNG", {}), ("rgba png", rgb.convert("RGBA"), "PNG", {}),
        ("16-bit png", Image.fromarray(pixels[..., 0].astype(np.uint16) * 257), "PNG", {}),
        ("jpeg", rgb, "JPEG", {"quality": 80}), ("tiff", rgb, "TIFF", {}),
        ("deflate tiff", gray, "TIFF", {"compression": "tiff_adobe_deflate"}),
        ("webp", rgb, "WEBP", {"quality": 80}), ("lossless webp", rgb, "WEBP", {"lossless": True}),
        ("bmp", rgb, "BMP", {}),
    ):
        buffer = io.BytesIO()
        image.save(buffer, format=fmt, **options)
        made[name] = (SUFFIX[fmt], buffer.getvalue())
    return made


SUFFIX = {"PNG": ".png", "JPEG": ".jpg", "TIFF": ".tif", "WEBP": ".webp", "BMP": ".bmp"}


def animated(fmt: str, frames: int) -> bytes:
    images = [Image.new("RGB", (16, 16), (40 * i, 0, 0)) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, format=fmt, save_all=True, append_images=images[1:])
    return buffer.getvalue()


def image_cases(rng: random.Random) -> Iterator[tuple[str, str, bytes]]:
    """(label, suffix, bytes): the valid bases, their mutations, and unmutated animations last."""
    for name, (suffix, data) in image_bases(rng).items():
        yield name, suffix, data
        for label, mutated in mutations(name, data, rng, 50):
            yield label, suffix, mutated
    for fmt in ("PNG", "WEBP", "TIFF"):
        for label, mutated in mutations(f"animated {fmt}", animated(fmt, 3), rng, 6):
            yield label, SUFFIX[fmt], mutated
        yield f"animated {fmt}", SUFFIX[fmt], animated(fmt, 3)


def test_images(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    refused = []
    for index, (label, suffix, data) in enumerate(image_cases(rng)):
        path = tmp_path / f"image-{index:03d}{suffix}"
        path.write_bytes(data)
        photo = outcome(label, path, partial(read_photo, path))
        if photo is not None:
            assert isinstance(photo, Photo) and photo.pixels.ndim == 3 and photo.pixels.shape[2] in (1, 3)
            assert photo.pixels.dtype in (np.uint8, np.uint16)
        elif label.startswith("animated") and label.count(" ") == 1:
            refused.append(label)
    assert refused == ["animated PNG", "animated WEBP", "animated TIFF"]  # all frames, never just the first


# ONNX files' external data references -------------------------------------------------------------

def onnx_bases(tmp_path: Path) -> dict[str, bytes]:
    """A shipped graph (no external data) and, with the onnx package, one whose weights are external."""
    bases = {"shipped graph": (resource_dir("models") / "melody-2bar.decoder_init.onnx").read_bytes()}
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        return bases
    weights = numpy_helper.from_array(np.eye(8, dtype=np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])], [weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, str(tmp_path / "base.onnx"), save_as_external_data=True, location="ext.data",
              size_threshold=0)
    bases["external weights"] = (tmp_path / "base.onnx").read_bytes()
    return bases


def test_onnx_external_data_references(tmp_path: Path) -> None:
    """A model's check reads every external data reference of its ONNX files (genmedia.onnxfile):
    a damaged file verifies or is one ModelError naming it, never another exception."""
    rng = random.Random(SEED)
    (tmp_path / "ext.data").write_bytes(np.eye(8, dtype=np.float32).tobytes())
    data_entry = {"path": "ext.data", "sha256": hashlib.sha256((tmp_path / "ext.data").read_bytes()).hexdigest(),
                  "bytes": 256}
    index = 0
    for name, base in onnx_bases(tmp_path).items():
        for label, data in [(name, base), *mutations(name, base, rng, 150)]:
            index += 1  # a new name each time: the registry keeps what it read of each file version
            path = tmp_path / f"net-{index:03d}.onnx"
            path.write_bytes(data)
            files = {"net": {"path": path.name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)},
                     "net.data": data_entry}
            meta = tmp_path / f"net-{index:03d}.json"
            meta.write_text(json.dumps({"format_version": 1, "name": "net", "task": "test", "files": files}))
            outcome(label, path, lambda meta=meta: load_info(meta).check("net"))

