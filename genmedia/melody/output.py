"""Write melodies: MIDI files (and WAV previews), all-or-nothing per call."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genmedia.fileio import check_writable, write_atomic
from genmedia.melody.midi import melody_to_midi
from genmedia.melody.synth import synthesize, write_wav


def save_midi(midi, path: Path, *, overwrite: bool) -> Path:
    return write_atomic(path, lambda tmp: midi.write(str(tmp)), overwrite=overwrite)


def write_melodies(outdir: Path, named: list[tuple[str, np.ndarray]], *, tempo: float, program: int,
                   wav: bool = False, overwrite: bool = False) -> list[Path]:
    """Write `STEM.mid` (and `STEM.wav`) for each (stem, tokens); every target is checked first."""
    outdir = Path(outdir)
    suffixes = (".mid", ".wav") if wav else (".mid",)
    check_writable([outdir / f"{stem}{s}" for stem, _ in named for s in suffixes], overwrite=overwrite)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, tokens in named:
        midi = melody_to_midi(tokens, tempo=tempo, program=program, name=f"genmedia {stem}")
        written.append(save_midi(midi, outdir / f"{stem}.mid", overwrite=overwrite))
        if wav:
            written.append(write_wav(outdir / f"{stem}.wav", synthesize(midi), overwrite=overwrite))
    return written


def write_melody_morph(outdir: Path, morph: np.ndarray, *, tempo: float, program: int, wav: bool,
                       stem: str = "step", overwrite: bool = False) -> list[Path]:
    """Write each step as `STEM-KK.mid` and all steps in a row as `morph.mid` (and `morph.wav`)."""
    outdir = Path(outdir)
    check_writable([outdir / "morph.mid"] + ([outdir / "morph.wav"] if wav else []), overwrite=overwrite)
    written = write_melodies(outdir, [(f"{stem}-{k:02d}", t) for k, t in enumerate(morph)], tempo=tempo,
                             program=program, overwrite=overwrite)
    whole = melody_to_midi(np.concatenate(list(morph)), tempo=tempo, program=program, name="genmedia morph")
    written.append(save_midi(whole, outdir / "morph.mid", overwrite=overwrite))
    if wav:
        written.append(write_wav(outdir / "morph.wav", synthesize(whole), overwrite=overwrite))
    return written
