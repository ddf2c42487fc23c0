"""`genmedia models ...`: list the installed models and verify their files."""

from __future__ import annotations

import json
from typing import Any

import click

from genmedia.cli.common import GenmediaGroup, Report, echo_line


@click.group(cls=GenmediaGroup)
def models() -> None:
    """Shipped and user models (set GENMEDIA_MODELS_PATH to add folders)."""


def _summary(meta: dict[str, Any]) -> str:
    latent = meta.get("latent", {})
    if "columns_per_step" in latent:
        parts = [f"latent {latent.get('channels')} per {latent['columns_per_step']} columns"]
    else:
        parts = [f"latent {latent['size']}"] if "size" in latent else []
    parts += [f"{k} {v}" for k, v in meta.get("metrics", {}).items() if isinstance(v, (int, float))]
    return ", ".join(parts)


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print every model's full metadata as JSON.")
def list_command(as_json: bool) -> None:
    """Show each model: name, task, files and measured metrics. A metadata file that cannot be
    read is reported as `error: PATH: why`, the other models are still listed, and the exit code is 1."""
    from genmedia.registry import scan_models

    found, errors = scan_models()
    if as_json:
        click.echo(json.dumps([{**m.metadata, "metadata_path": str(m.metadata_path)} for m in found], indent=2))
    else:
        for m in found:
            files = ", ".join(f"{f['path']} ({f['bytes'] / 1e6:.1f} MB)" for f in m.files.values())
            click.echo(f"{m.name}  [{m.task}]  {m.metadata.get('description', '')}")
            click.echo(f"    files: {files}")
            click.echo(f"    {_summary(m.metadata)}")
            click.echo(f"    trained with: {m.metadata.get('training', {}).get('command', '?')}")
    for exc in errors:
        echo_line(f"error: {exc}", err=True)
    if not found and not errors:
        click.echo("no models found", err=True)
    raise SystemExit(1 if errors else 0)


@models.command()
def verify() -> None:
    """Check every model's metadata and every file's size and sha256 (and that all the external
    data an ONNX file uses is listed): `ok NAME ROLE` for each good file, one `error:` line for each
    bad one, a summary; exit 1 if anything is wrong."""
    from genmedia.errors import ModelError
    from genmedia.registry import scan_models

    found, errors = scan_models()
    report = Report()
    for exc in errors:  # a metadata file that cannot be read: its message names it
        report.error(exc.path or "model metadata", str(exc))
    for m in found:
        for role in m.files:
            try:
                m.check(role)
            except ModelError as exc:
                report.error(m.path(role), str(exc))
                continue
            report.done += 1
            click.echo(f"ok     {m.name} {role}")
    click.echo(f"{report.counts(skipped=False)}; {len(found)} model{'s' * (len(found) != 1)}", err=True)
    report.finish()
