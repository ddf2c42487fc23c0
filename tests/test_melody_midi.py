"""Reading melodies from real-world MIDI, writing them back, and the synthesiser."""

from __future__ import annotations

import wave

import mido
import numpy as np
import pretty_midi
import pytest

from genmedia.errors import InputError
from genmedia.melody.midi import HOLD, MAX_PITCH, MIN_PITCH, REST, melody_to_midi, pitch_token, read_melody
from genmedia.melody.output import write_melodies
from genmedia.melody.synth import SAMPLE_RATE, synthesize, write_wav

from midi_fixtures import TPB, scale_tune, write_midi

Q = TPB  # a quarter note in ticks; a 16th is Q // 4


def test_tokens_on_the_16th_grid(tmp_path):
    path = write_midi(tmp_path / "a.mid", [[(0, Q, 60), (Q, Q + Q // 4, 62), (2 * Q, 4 * Q, 64)]])
    tokens = read_melody(path).tokens
    assert tokens.tolist() == [pitch_token(60), HOLD, HOLD, HOLD, pitch_token(62), REST, REST, REST,
                               pitch_token(64)] + [HOLD] * 7


def test_meta_events_on_a_later_track_are_honoured(tmp_path):
    path = write_midi(tmp_path / "a.mid", [[(0, Q, 60)]], tempo_bpm=90, meter=(6, 8), meta_track=1)
    melody = read_melody(path)
    assert melody.tempo == pytest.approx(90.0)
    assert melody.time_signature == (6, 8) and melody.steps_per_bar == 12


def test_three_four_bars_and_leading_empty_bars(tmp_path):
    bar = 3 * Q
    path = write_midi(tmp_path / "a.mid", [[(2 * bar + 2 * Q, 3 * bar, 67), (3 * bar, 4 * bar, 69)]], meter=(3, 4))
    melody = read_melody(path)
    assert melody.steps_per_bar == 12
    assert melody.tokens[:12].tolist() == [REST] * 8 + [pitch_token(67)] + [HOLD] * 3  # pickup kept in its bar
    assert melody.tokens[12] == pitch_token(69)


def test_overlapping_notes_highest_wins(tmp_path):
    path = write_midi(tmp_path / "a.mid", [[(0, 2 * Q, 60), (Q, 2 * Q, 67)]])
    c, g = pitch_token(60), pitch_token(67)
    assert read_melody(path).tokens[:8].tolist() == [c, HOLD, HOLD, HOLD, g, HOLD, HOLD, HOLD]


def test_out_of_range_melody_is_moved_by_octaves(tmp_path):
    path = write_midi(tmp_path / "a.mid", [[(0, Q, 100), (Q, 2 * Q, 104)]])
    melody = read_melody(path)
    assert melody.octave_shift == -12
    assert melody.tokens[0] == pitch_token(88) and melody.tokens[4] == pitch_token(92)
    low = read_melody(write_midi(tmp_path / "b.mid", [[(0, Q, 40), (Q, 2 * Q, 30)]]))
    assert all(MIN_PITCH <= t - 2 + MIN_PITCH <= MAX_PITCH for t in low.tokens if t >= 2)


def test_the_melody_track_is_chosen(tmp_path):
    chords = [(i * 4 * Q, (i + 1) * 4 * Q, p) for i in range(4) for p in (48, 52, 55)]  # 12 notes, 4 onsets
    tune = scale_tune(1)  # 8 notes, 8 onsets
    assert read_melody(write_midi(tmp_path / "a.mid", [chords, tune])).tokens[0] == pitch_token(60)
    named = write_midi(tmp_path / "b.mid", [tune, chords], names=["tune", "Lead synth"])
    assert read_melody(named).tokens[0] == pitch_token(55)  # the highest note of the named track's chord


@pytest.mark.parametrize(
    "make, why",
    [
        (lambda p: p.write_text("hello, this is text"), "is not a MIDI file (no MThd header)"),
        (lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
        (lambda p: p.write_bytes(write_midi(p, [scale_tune(2)]).read_bytes()[:60]), "is truncated or corrupt"),
        (lambda p: write_midi(p, [[]]), "has no notes"),
        (lambda p: write_midi(p, [[(0, Q, 36)]], channels=[9]), "has only drum tracks"),
        (lambda p: write_midi(p, [[(0, Q, 60)]], tempo_bpm=1000), "absurd tempo of 1000.0 BPM"),
        (lambda p: write_midi(p, [[(0, Q, 60)]], tempo_bpm=4), "absurd tempo of 4.0 BPM"),
    ],
)
def test_bad_files_are_rejected_with_the_file_named(tmp_path, make, why):
    path = tmp_path / "bad.mid"
    make(path)
    with pytest.raises(InputError) as info:
        read_melody(path)
    assert info.value.path == path and why in str(info.value)


def test_output_midi_is_clean_and_round_trips(tmp_path):
    tokens = read_melody(write_midi(tmp_path / "in.mid", [scale_tune(2)])).tokens[:32]
    write_melodies(tmp_path / "out", [("m", tokens)], tempo=96.0, program=40, wav=True)
    path = tmp_path / "out" / "m.mid"
    midi = mido.MidiFile(str(path))  # warnings are errors in this suite: both readers must be quiet
    assert midi.type == 1
    metas = [m for t in midi.tracks for m in t if m.is_meta]
    assert any(m.type == "set_tempo" and round(mido.tempo2bpm(m.tempo)) == 96 for m in metas)
    assert any(m.type == "time_signature" and (m.numerator, m.denominator) == (4, 4) for m in metas)
    pm = pretty_midi.PrettyMIDI(str(path))
    (inst,) = pm.instruments
    assert inst.program == 40 and inst.name == "genmedia m" and {n.velocity for n in inst.notes} <= {100, 88, 76}
    again = read_melody(path)
    assert again.tokens[:32].tolist() == tokens.tolist() and again.tempo == pytest.approx(96.0)


@pytest.mark.parametrize("pitch", [36, 69, 100, 127])  # 127: partials above Nyquist are left out
def test_synth_partials_by_recurrence_are_the_decaying_harmonics(pitch):
    from genmedia.melody import synth

    freq = 440.0 * 2 ** ((pitch - 69) / 12)
    note = synth._note(freq, 0.05, 127)  # shorter than attack + decay: the release branch
    t = np.arange(len(note)) / SAMPLE_RATE
    tone = sum(a * np.sin(2 * np.pi * freq * (k + 1) * t) * np.exp(-1.5 * (k + 1) * t)
               for k, a in enumerate(synth.HARMONICS) if freq * (k + 1) < SAMPLE_RATE / 2)
    assert np.abs(tone).max() > 0.5 and np.abs(note - tone * _envelope(t, 0.05)).max() < 1e-9


def _envelope(t, seconds):
    from genmedia.melody import synth

    level = np.interp(seconds, [0, synth.ATTACK, synth.ATTACK + synth.DECAY], [0, 1, synth.SUSTAIN])
    return np.where(t <= seconds, np.interp(t, [0, synth.ATTACK, synth.ATTACK + synth.DECAY], [0, 1, synth.SUSTAIN]),
                    level * np.clip(1 - (t - seconds) / synth.RELEASE, 0, 1))


def test_synth_is_clean_44k_16bit(tmp_path):
    pm = melody_to_midi(np.array([pitch_token(60), HOLD, REST, pitch_token(72)] * 8), tempo=120)
    audio = synthesize(pm)
    assert np.abs(audio).max() == pytest.approx(10 ** (-1 / 20), rel=1e-3)  # normalised to -1 dBFS
    assert abs(audio[0]) < 1e-3 and abs(audio[-1]) < 1e-3
    assert np.abs(np.diff(audio)).max() < 0.2  # no clicks: no jumps between neighbouring samples
    path = write_wav(tmp_path / "a.wav", audio)
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (SAMPLE_RATE, 2, 1)
        assert w.getnframes() == len(audio)
