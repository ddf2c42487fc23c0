"""genmedia: autoencoders as creative tools (game levels, melodies, image cleanup).

Importing this package is cheap: it pulls in no numerical or ML libraries. Use the
submodules (`genmedia.levels`, `genmedia.registry`, ...) for the library API.
"""

__version__ = "0.1.0"
