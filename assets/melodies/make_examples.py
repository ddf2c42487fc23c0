"""Write the two example melodies that `genmedia demo` morphs between (composed for this project).

Run from the repository root: python assets/melodies/make_examples.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genmedia.melody.midi import HOLD, REST, melody_to_midi, pitch_token

NOTES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def tokens(score: str) -> np.ndarray:
    """'E5:2 D5:1 -:1' -> tokens; the number is the length in 16ths, '-' is a rest."""
    out = []
    for item in score.split():
        name, length = item.split(":")
        if name == "-":
            out += [REST] * int(length)
        else:
            pitch = 12 * (int(name[-1]) + 1) + NOTES[name[0]] + (1 if "#" in name else 0)
            out += [pitch_token(pitch)] + [HOLD] * (int(length) - 1)
    return np.array(out)


# A: a bright major-key jig-like line; B: a slower minor-key air. Four bars of 4/4 each.
A = ("C5:2 E5:2 G5:2 E5:2 F5:2 A5:2 G5:4 E5:2 D5:2 C5:2 D5:2 E5:4 -:4 "
     "G5:2 F5:2 E5:2 D5:2 E5:2 F5:2 G5:4 E5:2 D5:2 B4:2 D5:2 C5:8")
B = "A4:4 C5:2 B4:2 A4:4 E4:4 F4:4 E4:2 D4:2 E4:8 A4:4 B4:4 C5:4 D5:4 E5:8 A4:8"


def main() -> None:
    here = Path(__file__).resolve().parent
    for name, score, tempo in (("example-a", A, 132.0), ("example-b", B, 96.0)):
        melody = tokens(score)
        assert len(melody) == 64, (name, len(melody))
        melody_to_midi(melody, tempo=tempo, name=name).write(str(here / f"{name}.mid"))


if __name__ == "__main__":
    main()
