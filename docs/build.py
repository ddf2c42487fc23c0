"""Build the API reference from the docstrings with pdoc: `python docs/build.py [OUTDIR]` (default build/docs).

It documents the library: the top-level API (`genmedia`, `genmedia.api`) and the modules under it,
not the command line (`genmedia.cli`, see `genmedia --help`) nor `genmedia.training` (which needs
torch). Needs pdoc (`pip install '.[docs]'`, also in the test extra).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = {"__init__", "__main__", "__pycache__", "cli", "training"}


def modules(package: Path = ROOT / "genmedia") -> list[str]:
    """`genmedia` and its modules and subpackages but `SKIP`, named one by one: pdoc would follow
    `genmedia.__all__`, which lists the API's names, not its modules."""
    found = [p.stem for p in package.glob("*.py")] + [p.name for p in package.iterdir()
                                                    if p.is_dir() and any(p.glob("*.py"))]
    return ["genmedia", *(f"genmedia.{name}" for name in sorted(set(found) - SKIP))]


def build(outdir: Path) -> Path:
    """Write the HTML reference into `outdir` (index.html, genmedia.html, ...); return `outdir`."""
    import pdoc
    import pdoc.render

    sys.path.insert(0, str(ROOT))  # the checkout's genmedia, installed or not
    pdoc.render.configure(docformat="markdown", footer_text="genmedia API reference", search=True,
                          show_source=False)
    pdoc.pdoc(*modules(), output_directory=outdir)
    return outdir


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        print("usage: python docs/build.py [OUTDIR]", file=sys.stderr)
        return 2
    try:
        import pdoc  # noqa: F401
    except ImportError:
        print("error: pdoc is not installed; pip install '.[docs]'", file=sys.stderr)
        return 1
    outdir = build(Path(argv[0]) if argv else ROOT / "build" / "docs")
    print(f"wrote the API reference to {outdir / 'index.html'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
