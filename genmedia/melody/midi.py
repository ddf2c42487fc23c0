"""Read a melody from any MIDI file into 16th-note tokens, and write tokens back as MIDI.

A melody is one token per 16th-note step, as in MusicVAE: REST, HOLD (the previous note
goes on), or a note-on for a pitch in [MIN_PITCH, MAX_PITCH].
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from genmedia import limits
from genmedia.errors import InputError
from genmedia.inputs import read_input_bytes

if TYPE_CHECKING:  # neither ships type information: Any to mypy, named here for the reader
    from mido import MidiFile
    from pretty_midi import Instrument, PrettyMIDI

REST, HOLD = 0, 1
MIN_PITCH, MAX_PITCH = 48, 95  # C3..B6, four octaves; the Nottingham melodies span 55-88
VOCAB = 2 + MAX_PITCH - MIN_PITCH + 1
STEPS_PER_QUARTER = 4
BAR_STEPS = 4 * STEPS_PER_QUARTER  # a bar of the models' grid: 4/4 in sixteenths, whatever the file's signature
MIN_TEMPO, MAX_TEMPO = 20.0, 400.0  # BPM; outside this a file's tempo is taken as broken
DEFAULT_TEMPO = 500_000  # microseconds per beat (120 BPM): MIDI's tempo before the first set_tempo
META_TYPES = ("set_tempo", "time_signature", "key_signature")


@dataclass
class Melody:
    """A monophonic melody on the 16th-note grid, from its first bar that has a note."""

    tokens: np.ndarray  # (steps,) int64
    tempo: float  # BPM at the first note
    time_signature: tuple[int, int]
    octave_shift: int = 0  # semitones added to bring the melody into range (a multiple of 12)

    @property
    def steps_per_bar(self) -> int:
        num, den = self.time_signature
        return max(1, num * STEPS_PER_QUARTER * 4 // den)


def pitch_token(pitch: int) -> int:
    return 2 + pitch - MIN_PITCH


def token_pitch(token: int) -> int:
    return token - 2 + MIN_PITCH


def _load_mido(path: Path) -> MidiFile:
    import mido
    from mido.midifiles.meta import KeySignatureError

    data = read_input_bytes(path, limit=limits.current().midi_bytes, what="MIDI file",
                            raise_with=limits.ENV["midi_bytes"])
    if not data:
        raise InputError(path, "is empty (0 bytes)")
    if not data.startswith(b"MThd"):
        raise InputError(path, "is not a MIDI file (no MThd header)")
    try:
        midi = mido.MidiFile(file=io.BytesIO(data), clip=True)
    except KeySignatureError as exc:
        raise InputError(path, f"has an invalid key signature ({exc})") from None
    except (EOFError, OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        detail = str(exc) or ("it ends inside a chunk" if isinstance(exc, EOFError) else type(exc).__name__)
        raise InputError(path, f"is truncated or corrupt ({detail})") from None
    if midi.ticks_per_beat <= 0:
        raise InputError(path, "has 0 ticks per beat" if midi.ticks_per_beat == 0 else
                         "uses SMPTE (frames per second) timing, which genmedia does not read")
    return midi


def _check_events(midi: MidiFile, path: Path) -> None:
    """Refuse tempo 0 and files longer or denser than `genmedia.limits` allows, before pretty_midi
    builds note objects and a tick-to-time table for them. Expects tempo events merged into track 0."""
    bounds = limits.current()
    tempi, tick = [], 0
    for msg in midi.tracks[0] if midi.tracks else ():
        tick += msg.time
        if msg.type == "set_tempo":
            if msg.tempo == 0:
                raise InputError(path, f"has a tempo of 0 microseconds per beat at tick {tick}")
            tempi.append((tick, msg.tempo))
    notes = sum(msg.type == "note_on" and msg.velocity > 0 for track in midi.tracks for msg in track)
    if notes > bounds.midi_notes:
        raise InputError(path, f"has {limits.over(bounds, 'midi_notes', notes, 'notes')}")
    end = max((sum(msg.time for msg in track) for track in midi.tracks), default=0)
    _check_length(end / midi.ticks_per_beat, _seconds_at(tempi, end, midi.ticks_per_beat), path, bounds)


def _seconds_at(tempi: list[tuple[int, int]], tick: int, ticks_per_beat: int) -> float:
    """Seconds from tick 0 to `tick` under the (tick, microseconds per beat) changes `tempi`."""
    seconds, last, tempo = 0.0, 0, DEFAULT_TEMPO
    for at, new in tempi:
        if at >= tick:
            break
        seconds += (at - last) * tempo / 1e6 / ticks_per_beat
        last, tempo = at, new
    return seconds + (tick - last) * tempo / 1e6 / ticks_per_beat


def _check_length(beats: float, seconds: float, path: Path, bounds: limits.Limits) -> None:
    if seconds > bounds.midi_seconds:
        raise InputError(path, f"lasts {limits.over(bounds, 'midi_seconds', seconds, 's')}")
    # The melody grid counts 16ths in ticks, whatever the tempo: a burst of tempo 1 must not make
    # a short file millions of steps long. As many beats as `midi_seconds` holds at MAX_TEMPO.
    most = bounds.midi_seconds / 60 * MAX_TEMPO
    if beats > most:
        raise InputError(path, f"is {beats:,.0f} beats long, over the limit of {most:,.0f} "
                               f"({bounds.midi_seconds:,.0f} s at {MAX_TEMPO:.0f} BPM; raise it with "
                               f"{limits.ENV['midi_seconds']})")


def check_notes(pm: PrettyMIDI, source: str | Path, *, release: float | None = None) -> None:
    """Refuse a `PrettyMIDI` whose notes are too many, too long or not finite (`genmedia.limits`).

    Given `release` (seconds a note rings on after its end), the file is about to be rendered to
    audio: the summed sound of its non-drum notes, each with its release, is bounded too.
    """
    bounds = limits.current()
    notes = [n for inst in pm.instruments for n in inst.notes]
    if len(notes) > bounds.midi_notes:
        raise InputError(source, f"has {limits.over(bounds, 'midi_notes', len(notes), 'notes')}")
    for n in notes:
        if not (math.isfinite(n.start) and math.isfinite(n.end) and 0 <= n.start <= n.end):
            raise InputError(source, f"has a note from {n.start} s to {n.end} s")
        if n.end - n.start > bounds.note_seconds:
            raise InputError(source, f"has a note at {n.start:,.1f} s lasting "
                                     f"{limits.over(bounds, 'note_seconds', n.end - n.start, 's')}")
    end = max((n.end for n in notes), default=0.0)
    if end > bounds.midi_seconds:
        raise InputError(source, f"lasts {limits.over(bounds, 'midi_seconds', end, 's')}")
    if release is not None:
        total = sum(n.end - n.start + release for inst in pm.instruments if not inst.is_drum for n in inst.notes)
        if total > bounds.midi_note_seconds_total:
            raise InputError(source, f"has notes sounding for a total of "
                                     f"{limits.over(bounds, 'midi_note_seconds_total', total, 's')}")


def _merge_meta_into_track0(midi: MidiFile) -> None:
    """Move tempo/meter/key events from every track into track 0, where readers expect them."""
    import mido

    if len(midi.tracks) < 2 or not any(m.type in META_TYPES for t in midi.tracks[1:] for m in t):
        return
    events = []
    for index, track in enumerate(midi.tracks):
        tick = 0
        for msg in track:
            tick += msg.time
            if index == 0 or msg.type in META_TYPES:
                events.append((tick, msg))
    for track in midi.tracks[1:]:
        kept, tick, last = [], 0, 0
        for msg in track:
            tick += msg.time
            if msg.type not in META_TYPES:
                kept.append(msg.copy(time=tick - last))
                last = tick
        track[:] = kept
    events.sort(key=lambda e: (e[0], e[1].type == "end_of_track"))
    events = [(t, m) for t, m in events if m.type != "end_of_track"]
    track0, last = mido.MidiTrack(), 0
    for tick, msg in events:
        track0.append(msg.copy(time=tick - last))
        last = tick
    track0.append(mido.MetaMessage("end_of_track", time=0))
    midi.tracks[0] = track0


def _pick_melody_track(pm: PrettyMIDI, path: Path) -> Instrument:
    tracks = [i for i in pm.instruments if not i.is_drum and i.notes]
    if not tracks:
        raise InputError(path, "has only drum tracks" if any(i.notes for i in pm.instruments) else "has no notes")
    named = [i for i in tracks if any(w in i.name.lower() for w in ("melody", "lead"))]
    if named:
        return named[0]
    # "Most notes" counts distinct onsets, so a chord track (three notes per onset) does not
    # outnumber the tune; ties go to the higher line.
    def busyness(track: Instrument) -> tuple[int, float]:
        return len({round(n.start, 4) for n in track.notes}), float(np.mean([n.pitch for n in track.notes]))

    return max(tracks, key=busyness)


def load_midi(path: str | Path) -> PrettyMIDI:
    """Parse a MIDI file into `PrettyMIDI`, tempo/meter/key events gathered from every track.

    Raises `InputError` naming the file when it is missing, not a regular file, empty, not MIDI,
    truncated or corrupt (tempo 0, 0 ticks per beat, an invalid key signature), or over one of
    the `genmedia.limits` (bytes, seconds, notes, the length of one note).
    """
    import pretty_midi

    path = Path(path)
    midi = _load_mido(path)
    _merge_meta_into_track0(midi)
    _check_events(midi, path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pm = pretty_midi.PrettyMIDI(mido_object=midi)
    except (ValueError, IndexError, KeyError, EOFError, ZeroDivisionError, OverflowError) as exc:
        raise InputError(path, f"cannot be read as MIDI ({exc})") from None
    check_notes(pm, path)
    return pm


def read_melody(path: str | Path) -> Melody:
    """Read the melody of a MIDI file; raises `InputError` naming the file (see `melody_from_midi`)."""
    return melody_from_midi(load_midi(path), source=path)


def melody_from_midi(pm: PrettyMIDI, *, source: str | Path) -> Melody:
    """The melody of a parsed MIDI file; raises `InputError` naming `source` if there is none.

    The melody track is a non-drum track named 'melody' or 'lead', else the one with the most
    notes (counted as distinct onsets, so chords count once); where its notes overlap, the
    highest sounds. Notes are quantised to 16ths in MIDI ticks, so tempo changes do not move them.
    Bars follow the time signature at the first note (3/4 and 6/8 bars are 12 sixteenths). The
    melody is shifted by whole octaves to fit the pitch range best; notes still outside are folded
    in by octaves.
    """
    path = Path(source)
    track = _pick_melody_track(pm, path)
    first = min(n.start for n in track.notes)
    times, tempi = pm.get_tempo_changes()
    tempo = float(tempi[np.searchsorted(times, first, side="right") - 1]) if len(tempi) else 120.0
    tempo = round(tempo, 2)  # MIDI stores whole microseconds per beat: 132 BPM reads back as 132.000132
    if not MIN_TEMPO <= tempo <= MAX_TEMPO:
        raise InputError(path, f"has an absurd tempo of {tempo:.1f} BPM (expected {MIN_TEMPO:.0f}-{MAX_TEMPO:.0f})")
    signature = (4, 4)
    for ts in pm.time_signature_changes:
        if ts.time <= first + 1e-6:
            signature = (ts.numerator, ts.denominator)
    tick16 = pm.resolution / STEPS_PER_QUARTER
    notes = [(int(round(pm.time_to_tick(n.start) / tick16)), int(round(pm.time_to_tick(n.end) / tick16)), n.pitch)
             for n in track.notes]
    melody = Melody(np.zeros(0, np.int64), tempo, signature, _octave_shift([p for _, _, p in notes]))
    melody.tokens = _tokens(notes, melody.octave_shift, melody.steps_per_bar)  # bars need the signature
    return melody


def _octave_shift(pitches: list[int]) -> int:
    shifts = range(-48, 49, 12)
    return max(shifts, key=lambda s: (sum(MIN_PITCH <= p + s <= MAX_PITCH for p in pitches), -abs(s)))


def _fold(pitch: int) -> int:
    while pitch < MIN_PITCH:
        pitch += 12
    while pitch > MAX_PITCH:
        pitch -= 12
    return pitch


def _tokens(notes: list[tuple[int, int, int]], shift: int, steps_per_bar: int) -> np.ndarray:
    """Monophonic token grid from (start step, end step, pitch), starting at the first bar with a note."""
    start_bar = min(s for s, _, _ in notes) // steps_per_bar
    offset = start_bar * steps_per_bar
    length = max(max(e, s + 1) for s, e, _ in notes) - offset
    pitch = np.full(length, -1)
    owner = np.full(length, -1)
    for index, (s, e, p) in sorted(enumerate(notes), key=lambda item: item[1][2]):  # low to high: highest wins
        s, e = s - offset, max(e, s + 1) - offset
        pitch[s:e] = _fold(p + shift)
        owner[s:e] = index
    tokens = np.full(length, REST, dtype=np.int64)
    sounding = owner >= 0
    onset = sounding & np.concatenate([[True], owner[1:] != owner[:-1]])
    tokens[sounding & ~onset] = HOLD
    tokens[onset] = 2 + pitch[onset] - MIN_PITCH
    return tokens


def melody_to_midi(tokens: np.ndarray, *, tempo: float = 120.0, program: int = 0, name: str = "melody",
                   time_signature: tuple[int, int] = (4, 4)) -> PrettyMIDI:
    """Tokens -> a `PrettyMIDI` with a tempo, a time signature and one named instrument track.

    Velocities follow the meter: 100 on the first beat of a bar, 88 on other beats (dotted quarters
    in 6/8 and other compound meters), 76 between. Raises `ValueError` for a tempo that is not a
    finite number of BPM above 0.
    """
    import pretty_midi

    if not (math.isfinite(tempo) and tempo > 0):
        raise ValueError(f"tempo must be a finite number of BPM above 0, not {tempo}")
    num, den = time_signature
    bar = max(1, num * STEPS_PER_QUARTER * 4 // den)
    beat = 6 if den == 8 and num % 3 == 0 else max(1, STEPS_PER_QUARTER * 4 // den)

    pm = pretty_midi.PrettyMIDI(initial_tempo=float(tempo))
    pm.time_signature_changes.append(pretty_midi.TimeSignature(int(num), int(den), 0.0))
    instrument = pretty_midi.Instrument(program=int(program), name=name)
    step = 60.0 / tempo / STEPS_PER_QUARTER
    for start, end, p in note_spans(tokens):
        velocity = 100 if start % bar == 0 else 88 if start % beat == 0 else 76
        instrument.notes.append(pretty_midi.Note(velocity, p, start * step, end * step))
    pm.instruments.append(instrument)
    return pm


def note_spans(tokens: np.ndarray) -> list[tuple[int, int, int]]:
    """(start step, end step, pitch) of each note; a HOLD after a rest is treated as a rest."""
    spans: list[list[int]] = []
    current = None
    for i, tok in enumerate(np.asarray(tokens).tolist()):
        if tok >= 2:
            current = [i, i + 1, token_pitch(tok)]
            spans.append(current)
        elif tok == HOLD and current is not None:
            current[1] = i + 1
        else:
            current = None
    return [(start, end, pitch) for start, end, pitch in spans]
