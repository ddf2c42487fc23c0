"""Write melodies: MIDI files (and WAV previews), all or nothing per call."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from genmedia.fileio import Inputs, OutputBatch, output_set, write_atomic
from genmedia.melody.midi import melody_to_midi
from genmedia.melody.synth import synthesize, write_wav

if TYPE_CHECKING:
    from pretty_midi import PrettyMIDI  # no type information: Any to mypy


def save_midi(midi: PrettyMIDI, path: Path, *, overwrite: bool) -> Path:
    """Write one `PrettyMIDI` atomically, never over an existing file unless `overwrite`."""
    return write_atomic(path, lambda tmp: midi.write(str(tmp)), overwrite=overwrite)


def _add_midi(batch: OutputBatch, midi: PrettyMIDI, path: Path, *, wav: bool) -> list[Path]:
    written = [batch.write(path, lambda tmp: midi.write(str(tmp)))]
    if wav:
        audio = synthesize(midi, source=batch.folder / path.with_suffix(".wav"))  # a limit names the WAV
        # write_wav publishes its temporary file onto ours, inside the batch's hidden folder.
        written.append(batch.write(path.with_suffix(".wav"), lambda tmp: write_wav(tmp, audio)))
    return written


def add_melodies(batch: OutputBatch, named: list[tuple[str, np.ndarray]], *, tempo: float, program: int,
                 wav: bool = False, folder: str | Path = "", time_signature: tuple[int, int] = (4, 4),
                 time_signatures: list[tuple[int, int]] | None = None) -> list[Path]:
    """Add `FOLDER/STEM.mid` (and `STEM.wav`) for each (stem, tokens) to `batch`, in `time_signature`
    (or each in its own of `time_signatures`); every name is checked first."""
    suffixes = (".mid", ".wav") if wav else (".mid",)
    batch.check([Path(folder, f"{stem}{s}") for stem, _ in named for s in suffixes])
    signatures = time_signatures if time_signatures is not None else [time_signature] * len(named)
    if len(signatures) != len(named):
        raise ValueError(f"{len(named)} melodies but {len(signatures)} time signatures")
    written = []
    for (stem, tokens), signature in zip(named, signatures):
        midi = melody_to_midi(tokens, tempo=tempo, program=program, name=f"genmedia {stem}",
                              time_signature=signature)
        written += _add_midi(batch, midi, Path(folder, f"{stem}.mid"), wav=wav)
    return written


def add_melody_morph(batch: OutputBatch, morph: np.ndarray, *, tempo: float, program: int, wav: bool,
                     stem: str = "step", folder: str | Path = "",
                     time_signature: tuple[int, int] = (4, 4)) -> list[Path]:
    """Add each step as `STEM-KK.mid` and all steps in a row as `morph.mid` (and `morph.wav`) to `batch`."""
    batch.check([Path(folder, "morph.mid")] + ([Path(folder, "morph.wav")] if wav else []))
    written = add_melodies(batch, [(f"{stem}-{k:02d}", t) for k, t in enumerate(morph)], tempo=tempo,
                           program=program, folder=folder, time_signature=time_signature)
    whole = melody_to_midi(np.concatenate(list(morph)), tempo=tempo, program=program, name="genmedia morph",
                           time_signature=time_signature)
    return written + _add_midi(batch, whole, Path(folder, "morph.mid"), wav=wav)


def write_melodies(outdir: Path, named: list[tuple[str, np.ndarray]], *, tempo: float, program: int,
                   wav: bool = False, overwrite: bool = False,
                   time_signatures: list[tuple[int, int]] | None = None) -> list[Path]:
    """Write `STEM.mid` (and `STEM.wav`) for each (stem, tokens) into `outdir`, all or nothing
    (in 4/4, or each in its own of `time_signatures`)."""
    with output_set(outdir, overwrite=overwrite) as batch:
        written = add_melodies(batch, named, tempo=tempo, program=program, wav=wav, time_signatures=time_signatures)
    return written


def write_melody_morph(outdir: Path, morph: np.ndarray, *, tempo: float, program: int, wav: bool,
                       stem: str = "step", overwrite: bool = False,
                       time_signature: tuple[int, int] = (4, 4), inputs: Inputs = ()) -> list[Path]:
    """Write each step as `STEM-KK.mid` and all steps in a row as `morph.mid` (and `morph.wav`), all or
    nothing; none of them over one of `inputs` (the melodies it morphs)."""
    with output_set(outdir, overwrite=overwrite, inputs=inputs) as batch:
        written = add_melody_morph(batch, morph, tempo=tempo, program=program, wav=wav, stem=stem,
                                   time_signature=time_signature)
    return written
