"""Training and ONNX export; the only package that imports torch (install the `train` extra)."""

from __future__ import annotations

import importlib.util

from genmedia.errors import MissingExtraError

PRECISIONS = ("fp32", "bf16")  # DenoiserConfig.precision; here, not in the torch module, so the CLI can list them
CAMERA_LEVELS = ("estimate", "rms")  # DenoiserConfig.camera_level, likewise
TRAIN_INSTALL_HINT = "pip install 'genmedia[train]'  (CPU-only torch: pip install torch==2.13.0 onnx first)"


def require_torch(device: str = "cpu") -> None:
    """Raise `MissingExtraError` naming the install command when torch or onnx is missing, or
    saying why torch cannot train on `device` ("cpu" always can)."""
    missing = [name for name in ("torch", "onnx") if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingExtraError(
            f"training needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed; "
            f"install with: {TRAIN_INSTALL_HINT}"
        )
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise MissingExtraError(f"--device cuda: this torch ({torch.__version__}) sees no CUDA GPU; "
                                "use --device cpu, or install a CUDA build of torch on a machine with a GPU")


def require_music21() -> None:
    """Raise `MissingExtraError` naming the install command when music21 (training data only) is missing."""
    if importlib.util.find_spec("music21") is None:
        raise MissingExtraError("preparing the melody training data needs music21, which is not installed; "
                                "install with: pip install 'genmedia[train]'  (or: pip install music21)")
