"""A small built-in synthesiser: MIDI notes -> 44.1 kHz 16-bit WAV, numpy and `wave` only.

Each note is a few decaying harmonics under an attack/decay/sustain/release envelope;
every edge is ramped, so there are no clicks; the mix is normalised to -1 dBFS peak.
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from genmedia.fileio import Inputs, write_atomic
from genmedia.melody.midi import check_notes

if TYPE_CHECKING:
    from pretty_midi import PrettyMIDI  # no type information: Any to mypy

SAMPLE_RATE = 44_100  # Hz
ATTACK, DECAY, SUSTAIN, RELEASE = 0.008, 0.12, 0.6, 0.08  # s, s, level, s
HARMONICS = (1.0, 0.5, 0.25, 0.12, 0.06)  # amplitude of partials 1..5
PEAK = 10 ** (-1 / 20)  # -1 dBFS


def _note(freq: float, seconds: float, velocity: int) -> np.ndarray:
    total = int((seconds + RELEASE) * SAMPLE_RATE)
    t = np.arange(total) / SAMPLE_RATE
    # Partial k+1 is sin((k+1)x) decaying as d^(k+1): both by recurrence from sin x, cos x and d
    # (sin((k+1)x) = 2 cos x sin(kx) - sin((k-1)x)), three transcendental calls a note, not ten.
    x = 2 * np.pi * freq * t
    two_cos, decay = 2 * np.cos(x), np.exp(-1.5 * t)
    tone = np.zeros(total)
    previous, current, weight = np.zeros(total), np.sin(x), decay.copy()
    for k, a in enumerate(HARMONICS):
        if freq * (k + 1) >= SAMPLE_RATE / 2:
            break
        tone += a * current * weight
        previous, current = current, two_cos * current - previous
        weight *= decay
    env = np.interp(t, [0, ATTACK, ATTACK + DECAY, max(seconds, ATTACK + DECAY), seconds + RELEASE],
                    [0, 1, SUSTAIN, SUSTAIN, 0])
    if seconds < ATTACK + DECAY:  # short notes: release from where the envelope is
        level = np.interp(seconds, [0, ATTACK, ATTACK + DECAY], [0, 1, SUSTAIN])
        env = np.where(t <= seconds, np.interp(t, [0, ATTACK, ATTACK + DECAY], [0, 1, SUSTAIN]),
                       level * np.clip(1 - (t - seconds) / RELEASE, 0, 1))
    return tone * env * (velocity / 127)


def synthesize(midi: PrettyMIDI, *, source: str | Path = "<midi>") -> np.ndarray:
    """Render every non-drum note of a `PrettyMIDI` to mono float32 in [-PEAK, PEAK].

    Raises `InputError` naming `source` before allocating anything when the notes are too many,
    too long, end too late or sound too long in all for `genmedia.limits` (the audio is held in
    memory, 4 bytes a sample, and each note is rendered on its own).
    """
    check_notes(midi, source, release=RELEASE)
    notes = [n for inst in midi.instruments if not inst.is_drum for n in inst.notes]
    end = max((n.end for n in notes), default=0.0) + RELEASE + 0.05
    audio = np.zeros(int(end * SAMPLE_RATE) + 1, dtype=np.float32)  # float32 halves the largest buffer
    for n in notes:
        start = int(n.start * SAMPLE_RATE)
        sound = _note(440.0 * 2 ** ((n.pitch - 69) / 12), n.end - n.start, n.velocity)
        audio[start:start + len(sound)] += sound[: len(audio) - start]
    peak = np.abs(audio).max()
    return (audio * (PEAK / peak) if peak > 0 else audio).astype(np.float32)


def write_wav(path: Path, audio: np.ndarray, *, overwrite: bool = False, inputs: Inputs = ()) -> Path:
    """Write mono float audio as 16-bit PCM WAV at SAMPLE_RATE, atomically, never over one of `inputs`."""
    pcm = np.clip(np.round(audio * 32767), -32768, 32767).astype("<i2").tobytes()

    def writer(tmp: Path) -> None:
        with wave.open(str(tmp), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(SAMPLE_RATE)
            out.writeframes(pcm)

    return write_atomic(path, writer, overwrite=overwrite, inputs=inputs)
