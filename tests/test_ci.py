"""CI runs what the README says: one test command, linted and type-checked with pinned tools."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_test_command() -> str:
    """The README's test command: the last line of its first bash block."""
    block = re.search(r"^```bash\n(.*?)^```$", (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.S | re.M)
    assert block is not None, "the README starts with a bash block"
    return block.group(1).strip().splitlines()[-1]


def test_ci_runs_the_readme_test_command_verbatim():
    command = readme_test_command()
    assert "ruff check" in command and "mypy" in command and command.endswith("pytest")
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    # In a subshell: under `set -e` a failing `a && b && c` list does not stop the script, so a ruff
    # failure would skip mypy and the tests and the run would still pass.
    assert f"({command})" in lines


def test_a_failing_step_of_the_test_command_fails_the_ci_script():
    """The script's own shell options with a test command whose lint step fails: the run stops there."""
    import subprocess

    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    options = next(line for line in script.splitlines() if line.startswith("set "))
    failing = "(true && false && echo tests-ran)"  # install ok, ruff fails, pytest never runs
    done = subprocess.run(["bash", "-c", f"{options}\n{failing}\necho docs-built\n"], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode != 0 and done.stdout == ""


def test_ruff_and_mypy_are_pinned_and_configured():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    test_extra = project["project"]["optional-dependencies"]["test"]
    assert any(re.fullmatch(r"ruff==[\d.]+", req) for req in test_extra), test_extra
    assert any(re.fullmatch(r"mypy==[\d.]+", req) for req in test_extra), test_extra
    ruff = project["tool"]["ruff"]
    assert ruff["line-length"] == 120 and ruff["lint"]["select"]  # the project's own rule set, not ruff's default
    mypy = project["tool"]["mypy"]
    assert mypy["strict"] is True and mypy["files"] == ["genmedia"]
