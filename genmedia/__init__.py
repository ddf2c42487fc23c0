"""genmedia: autoencoders as creative tools (game levels, melodies, image cleanup).

The library API, importable from here:

- levels: `sample_levels`, `morph_levels`; `read_level`, `parse_level`, `level_to_text`,
  `write_level`, `render_level`; `LevelModel`;
- melodies: `sample_melodies`, `morph_melodies`; `read_melody`, `write_midi`, `write_wav`;
  `Melody`, `MelodyModel`;
- images: `denoise`; `read_photo`, `write_photo`; `Photo`, `Denoiser`;
- errors: `GenmediaError` and its subclasses `InputError` (a file that cannot be used) and
  `ModelError`.

```python
import genmedia

levels = genmedia.sample_levels(count=2, width=64, seed=0)
print(genmedia.level_to_text(levels[0]))
```

Importing this package is cheap: the names above are loaded on first use, so `import genmedia`
pulls in no numerical or ML libraries (no numpy, ONNX Runtime, torch or Ray). See `genmedia.api`
for the conventions the functions share (model arguments, errors).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> the module it is loaded from, on first use (PEP 562)
_EXPORTS = {
    "sample_levels": "genmedia.api", "morph_levels": "genmedia.api", "write_level": "genmedia.api",
    "sample_melodies": "genmedia.api", "morph_melodies": "genmedia.api", "write_midi": "genmedia.api",
    "write_wav": "genmedia.api", "denoise": "genmedia.api",
    "LevelModel": "genmedia.levels.model",
    "read_level": "genmedia.levels.tiles", "parse_level": "genmedia.levels.tiles",
    "level_to_text": "genmedia.levels.tiles", "render_level": "genmedia.levels.render",
    "MelodyModel": "genmedia.melody.model", "Melody": "genmedia.melody.midi", "read_melody": "genmedia.melody.midi",
    "Denoiser": "genmedia.image.denoise", "Photo": "genmedia.image.io", "read_photo": "genmedia.image.io",
    "write_photo": "genmedia.image.io",
    "GenmediaError": "genmedia.errors", "InputError": "genmedia.errors", "ModelError": "genmedia.errors",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # what type checkers and editors see; at run time `__getattr__` loads each on first use
    from genmedia.api import (denoise, morph_levels, morph_melodies, sample_levels, sample_melodies, write_level,
                              write_midi, write_wav)
    from genmedia.errors import GenmediaError, InputError, ModelError
    from genmedia.image.denoise import Denoiser
    from genmedia.image.io import Photo, read_photo, write_photo
    from genmedia.levels.model import LevelModel
    from genmedia.levels.render import render_level
    from genmedia.levels.tiles import level_to_text, parse_level, read_level
    from genmedia.melody.midi import Melody, read_melody
    from genmedia.melody.model import MelodyModel


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'genmedia' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups do not come here again
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
