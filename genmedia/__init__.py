"""genmedia: autoencoders as creative tools (game levels, melodies, image cleanup).

The library API, importable from here:

- levels: `sample_levels`, `morph_levels`, `transform_level` (attributes asked for with
  `level_request`, from options or a prompt); `read_level`, `parse_level`, `level_to_text`,
  `write_level`, `render_level`; `LevelModel`;
- melodies: `sample_melodies`, `morph_melodies`, `transform_melody`, `sweep_melody` (concept
  vectors), `melody_styles`; `read_melody`, `write_midi`, `write_wav`; `Melody`, `MelodyModel`;
- images: `denoise`, `estimate_noise_level`; `read_photo`, `write_photo`; `Photo`, `Denoiser`;
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
    "sample_levels": "genmedia.api", "morph_levels": "genmedia.api", "transform_level": "genmedia.api",
    "level_request": "genmedia.api", "write_level": "genmedia.api",
    "sample_melodies": "genmedia.api", "morph_melodies": "genmedia.api", "transform_melody": "genmedia.api",
    "sweep_melody": "genmedia.api", "melody_styles": "genmedia.api", "write_midi": "genmedia.api",
    "write_wav": "genmedia.api",
    "denoise": "genmedia.api", "estimate_noise_level": "genmedia.api", "write_photo": "genmedia.api",
    "LevelRequest": "genmedia.api", "SampledLevels": "genmedia.api", "TransformedLevel": "genmedia.api",
    "MelodyTransform": "genmedia.api", "clear_model_cache": "genmedia.api",
    "LevelModel": "genmedia.levels.model",
    "read_level": "genmedia.levels.tiles", "parse_level": "genmedia.levels.tiles",
    "level_to_text": "genmedia.levels.tiles", "render_level": "genmedia.levels.render",
    "MelodyModel": "genmedia.melody.model", "Melody": "genmedia.melody.midi", "read_melody": "genmedia.melody.midi",
    "Denoiser": "genmedia.image.denoise", "Photo": "genmedia.image.io", "read_photo": "genmedia.image.io",
    "GenmediaError": "genmedia.errors", "InputError": "genmedia.errors", "ModelError": "genmedia.errors",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # what type checkers and editors see; at run time `__getattr__` loads each on first use
    # (`import X as X` marks an explicit re-export)
    from genmedia.api import (
        LevelRequest as LevelRequest,
        MelodyTransform as MelodyTransform,
        SampledLevels as SampledLevels,
        TransformedLevel as TransformedLevel,
        clear_model_cache as clear_model_cache,
        denoise as denoise,
        estimate_noise_level as estimate_noise_level,
        level_request as level_request,
        melody_styles as melody_styles,
        morph_levels as morph_levels,
        morph_melodies as morph_melodies,
        sample_levels as sample_levels,
        sample_melodies as sample_melodies,
        sweep_melody as sweep_melody,
        transform_level as transform_level,
        transform_melody as transform_melody,
        write_level as write_level,
        write_midi as write_midi,
        write_photo as write_photo,
        write_wav as write_wav,
    )
    from genmedia.errors import GenmediaError as GenmediaError, InputError as InputError, ModelError as ModelError
    from genmedia.image.denoise import Denoiser as Denoiser
    from genmedia.image.io import Photo as Photo, read_photo as read_photo
    from genmedia.levels.model import LevelModel as LevelModel
    from genmedia.levels.render import render_level as render_level
    from genmedia.levels.tiles import (
        level_to_text as level_to_text,
        parse_level as parse_level,
        read_level as read_level,
    )
    from genmedia.melody.midi import Melody as Melody, read_melody as read_melody
    from genmedia.melody.model import MelodyModel as MelodyModel


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'genmedia' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups do not come here again
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
