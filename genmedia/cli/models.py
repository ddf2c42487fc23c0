"""`genmedia models ...`: list the installed models and verify their files."""

from __future__ import annotations

import json

import click

from genmedia.cli.common import GenmediaGroup


@click.group(cls=GenmediaGroup)
def models() -> None:
    """Shipped and user models (set GENMEDIA_MODELS_PATH to add folders)."""


def _summary(meta: dict) -> str:
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
    """Show each model: name, task, files and measured metrics."""
    from genmedia.registry import list_models

    found = list_models()
    if as_json:
        click.echo(json.dumps([{**m.metadata, "metadata_path": str(m.metadata_path)} for m in found], indent=2))
        return
    for m in found:
        files = ", ".join(f"{f['path']} ({f['bytes'] / 1e6:.1f} MB)" for f in m.metadata["files"].values())
        click.echo(f"{m.name}  [{m.task}]  {m.metadata.get('description', '')}")
        click.echo(f"    files: {files}")
        click.echo(f"    {_summary(m.metadata)}")
        click.echo(f"    trained with: {m.metadata.get('training', {}).get('command', '?')}")
    if not found:
        click.echo("no models found", err=True)


@models.command()
def verify() -> None:
    """Check every model file's sha256 against its metadata; exit 1 if any differs."""
    from genmedia.errors import ModelError
    from genmedia.registry import list_models

    bad = 0
    for m in list_models():
        for role in m.metadata["files"]:
            try:
                m.file(role)
                click.echo(f"ok     {m.name} {role}")
            except ModelError as exc:
                bad += 1
                click.echo(f"error: {exc}", err=True)
    raise SystemExit(1 if bad else 0)
