"""Prepare the broader melody training data as MIDI files, read later by genmedia's own MIDI reader.

Sources (see README, "Training data for the melody models"):
- music21's corpus, collection `ryansMammoth` (fiddle tunes, ABC) and `bach` (chorales: each voice
  its own melody). No other music21 collection is read: they are reserved for evaluation.
- `../shared/data/jsb/Jsb16thSeparated.npz` (JSB chorales at 16th resolution, Boulanger-Lewandowski's split): each voice
  its own melody; that data set does not tell held from repeated notes, so repeats are held.

Each source is written to `OUT/SOURCE/{train,valid,test}/*.mid` with the split decided here, by
tune: a chorale's four voices always share a split. music21's Bach chorales that are also in JSB
(the same soprano line, up to transposition) take JSB's split, so no chorale is in one source's
training data and another's test data. `OUT/SOURCE/split.json` records the rule and the counts.
music21 is needed here only (the `train` extra), never at run time.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

SPLITS = ("train", "valid", "test")
VOICES = ("soprano", "alto", "tenor", "bass")
MUSIC21_COLLECTIONS = ("ryansMammoth", "bach")  # the only music21 collections genmedia trains on
FINGERPRINT_NOTES = 24  # soprano intervals compared to match a music21 chorale to a JSB one
SPLIT_RULE = "by tune: crc32(tune name) % 10 == 0 test, == 1 valid, else train"


def split_by_hash(name: str) -> str:
    bucket = zlib.crc32(name.encode()) % 10
    return "test" if bucket == 0 else "valid" if bucket == 1 else "train"


def fingerprint(pitches: Iterable[int]) -> tuple[int, ...]:
    """Transposition-free fingerprint of a line: the intervals between its first distinct notes
    (repeated pitches merged, as JSB cannot tell them from held ones)."""
    merged: list[int] = []
    for p in pitches:
        if not merged or merged[-1] != p:
            merged.append(p)
    return tuple(b - a for a, b in zip(merged, merged[1:]))[:FINGERPRINT_NOTES]


def _write_notes(path: Path, notes: list[tuple[float, float, int]], *, numerator: int = 4, denominator: int = 4,
                 tempo: float = 100.0) -> None:
    """Notes (start and end in quarter notes, pitch) -> a one-track MIDI file."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(numerator, denominator, 0.0))
    track = pretty_midi.Instrument(0, name="melody")
    beat = 60.0 / tempo
    for start, end, pitch in notes:
        track.notes.append(pretty_midi.Note(90, int(pitch), start * beat, end * beat))
    pm.instruments.append(track)
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.write(str(path))


def jsb_voices(jsb_npz: Path) -> dict[str, list[tuple[str, list[list[tuple[float, float, int]]]]]]:
    """JSB chorales by their own split: (name, four voices of notes) each, from `Jsb16thSeparated.npz`
    (16th-note steps, one pitch per voice per step, NaN where a voice is silent)."""
    import numpy as np

    # Object arrays need pickle: this is the project's own read-only data set, never a user's file.
    data = np.load(jsb_npz, allow_pickle=True, encoding="latin1")
    out: dict[str, list] = {}
    for split in SPLITS:
        chorales = []
        for index, chorale in enumerate(data[split]):
            voices: list[list[tuple[float, float, int]]] = []
            for v in range(4):
                notes: list[tuple[float, float, int]] = []
                for step, value in enumerate(np.asarray(chorale, dtype=float)[:, v]):
                    if math.isnan(value):
                        continue
                    pitch = int(value)
                    if notes and notes[-1][2] == pitch and math.isclose(notes[-1][1], step / 4):
                        notes[-1] = (notes[-1][0], (step + 1) / 4, pitch)
                    else:
                        notes.append((step / 4, (step + 1) / 4, pitch))
                voices.append(notes)
            chorales.append((f"jsb-{split}-{index:03d}", voices))
        out[split] = chorales
    return out


def _music21_parts(path: Path, *, every: bool = False):
    """(time signature, [notes per part]) of a music21 corpus file; notes in quarter notes. With
    `every`, a list of those, one per tune of a file that holds several (an ABC songbook)."""
    from music21 import converter, stream

    score = converter.parse(str(path))
    if isinstance(score, stream.Opus):
        if every:
            return [_score_parts(s) for s in score.scores]
        score = score.scores[0] if score.scores else score
    return [_score_parts(score)] if every else _score_parts(score)


def _score_parts(score):
    from music21 import meter

    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    sig = next(iter(score.recurse().getElementsByClass(meter.TimeSignature)), None)
    numerator, denominator = (sig.numerator, sig.denominator) if sig is not None else (4, 4)
    out = []
    for part in parts:
        notes = []
        measures = list(part.getElementsByClass("Measure"))
        # A pickup bar starts at offset 0 in music21 but late in its bar: shift so that bar lines fall on
        # whole bars, as they do in a MIDI file written with the pickup in place.
        pickup = float(measures[0].paddingLeft) if measures else 0.0
        for element in part.flatten().notes:
            pitches = [p.midi for p in element.pitches]
            if not pitches or element.quarterLength <= 0:
                continue
            start = float(element.offset) + pickup
            notes.append((start, start + float(element.quarterLength), max(pitches)))
        out.append(notes)
    return (numerator, denominator), out


def prepare_evaluation(out: Path, collection: str, *, limit: int | None = None,
                       log: Callable[[str], None] = lambda line: None) -> dict:
    """Write a music21 collection that genmedia never trains on (e.g. `oneills1850`) to
    `OUT/COLLECTION/test/*.mid` (every tune of the first `limit` files, all held out; empty train/ and
    valid/), to report how the models do on melodies from outside their training data. Never used to train
    or choose settings."""
    if collection in MUSIC21_COLLECTIONS:
        raise ValueError(f"music21 collection {collection!r} is training data; evaluate on another collection")
    from music21 import corpus

    out = Path(out)
    paths = sorted(corpus.getComposer(collection))
    paths = [paths[i] for i in sorted(range(len(paths)), key=lambda i: zlib.crc32(paths[i].name.encode()))][:limit]
    written = failed = 0
    for path in paths:
        try:
            tunes = _music21_parts(path, every=True)
        except Exception:  # music21 raises many kinds on odd files; count and go on
            failed += 1
            continue
        for index, ((num, den), parts) in enumerate(tunes):
            if parts and parts[0]:
                _write_notes(out / collection / "test" / f"{path.stem}-{index:03d}.mid", parts[0], numerator=num,
                             denominator=den)
                written += 1
    for split in ("train", "valid"):
        (out / collection / split).mkdir(parents=True, exist_ok=True)
    info = {"split": "evaluation only: every tune in test/", "melodies": {"test": written}, "files": len(paths),
            "unreadable": failed, "source": f"music21 corpus '{collection}' (first {len(paths)} by crc32 of the name)"}
    (out / collection / "split.json").write_text(json.dumps(info, indent=2) + "\n")
    log(f"{collection}: {written} tunes")
    return info


def prepare(out: Path, *, jsb_npz: Path | None, collections: Iterable[str] = MUSIC21_COLLECTIONS,
            limit: int | None = None, log: Callable[[str], None] = lambda line: None) -> dict:
    """Write every source under `out` (see the module docstring); returns the summary per source."""
    out = Path(out)
    summary: dict[str, dict] = {}
    jsb_split_of: dict[tuple[int, ...], str] = {}
    if jsb_npz is not None:
        counts = {s: 0 for s in SPLITS}
        for split, chorales in jsb_voices(jsb_npz).items():
            for name, voices in chorales:
                jsb_split_of.setdefault(fingerprint(p for _, _, p in voices[0]), split)
                for voice, notes in zip(VOICES, voices):
                    if notes:
                        _write_notes(out / "jsb" / split / f"{name}--{voice}.mid", notes)
                        counts[split] += 1
        summary["jsb"] = {"split": "the data set's own (Boulanger-Lewandowski 2012)", "melodies": counts,
                          "source": str(jsb_npz)}
        log(f"jsb: {counts}")
    for collection in collections:
        if collection not in MUSIC21_COLLECTIONS:
            raise ValueError(f"music21 collection {collection!r} is reserved for evaluation; "
                             f"train only on {', '.join(MUSIC21_COLLECTIONS)}")
        from music21 import corpus

        paths = sorted(corpus.getComposer(collection))[:limit]
        counts = {s: 0 for s in SPLITS}
        matched = failed = 0
        for i, path in enumerate(paths):
            try:
                (num, den), parts = _music21_parts(path)
            except Exception as exc:  # music21 raises many kinds on odd files; count and go on
                failed += 1
                log(f"{collection}: skipped {path.name}: {type(exc).__name__}: {exc}"[:200])
                continue
            tune = path.stem
            split = split_by_hash(tune)
            if collection == "bach":
                if len(parts) != 4:
                    continue  # chorales are four voices; other Bach pieces are not melodies
                jsb = jsb_split_of.get(fingerprint(p for _, _, p in parts[0]))
                if jsb is not None:
                    split, matched = jsb, matched + 1
                names = [f"{tune}--{voice}" for voice in VOICES]
            else:
                parts, names = parts[:1], [tune]
            for name, notes in zip(names, parts):
                if notes:
                    _write_notes(out / collection / split / f"{name}.mid", notes, numerator=num, denominator=den)
                    counts[split] += 1
            if i % 100 == 0:
                log(f"{collection}: {i}/{len(paths)}")
        summary[collection] = {"split": SPLIT_RULE + ("; chorales also in JSB take JSB's split" if collection == "bach"
                                                      else ""), "melodies": counts, "files": len(paths),
                               "unreadable": failed, **({"matched_to_jsb": matched} if collection == "bach" else {}),
                               "source": f"music21 corpus '{collection}'"}
        log(f"{collection}: {counts}")
    for source, info in summary.items():
        (out / source).mkdir(parents=True, exist_ok=True)
        (out / source / "split.json").write_text(json.dumps(info, indent=2) + "\n")
    return summary
