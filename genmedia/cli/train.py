"""`genmedia train ...`: train a model with torch and export it to ONNX (needs the train extra)."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from genmedia.cli.common import F, FiniteFloatRange, GenmediaGroup, overwrite_option
from genmedia.training import CAMERA_LEVELS, PRECISIONS

UNRECORDED = {"max_minutes"}  # options that do not change the trained model


def replay_command(ctx: click.Context) -> str:
    """The command line that repeats this run: every option whose value differs from its default."""
    words = ["genmedia", *ctx.command_path.split()[1:]]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if param.name in UNRECORDED:
            continue
        if isinstance(param, click.Option) and value is not None and value != param.default and value is not False:
            if param.multiple:  # a repeated option (several --data folders) is written repeated
                words += [word for item in value for word in (param.opts[-1], str(item))]
                continue
            text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)  # as --widths reads it
            words += [param.opts[-1]] if param.is_flag else [param.opts[-1], text]
    return shlex.join(words)


def checkpoint_option(func: F) -> F:
    return click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help="Checkpoint file: saved during training and resumed from if it exists.")(func)


def max_minutes_option(func: F) -> F:
    return click.option("--max-minutes", type=FiniteFloatRange(0.0, min_open=True), default=None,
                        help="Stop training after this many minutes, saving the checkpoint (needs --checkpoint), "
                             "and exit with status 75; the same command then resumes, to the same weights as one "
                             "long run.")(func)


def time_limit(max_minutes: float | None, checkpoint: Path | None) -> float | None:
    """--max-minutes in seconds; refused without a checkpoint to resume from."""
    if max_minutes is not None and checkpoint is None:
        raise click.UsageError("--max-minutes needs --checkpoint, to resume from")
    return None if max_minutes is None else 60.0 * max_minutes


def device_option(func: F) -> F:
    return click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
                        help="Where to train. The shipped models were trained on the CPU; a GPU run is not "
                             "bit-identical to a CPU run.")(func)


def parse_widths(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, ...] | None:
    """'48,96,192,384' -> (48, 96, 192, 384): channels per U-Net level, at least two levels."""
    if value is None:
        return None
    try:
        widths = tuple(int(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of channel counts") from None
    if len(widths) < 2 or min(widths) < 1:
        raise click.BadParameter(f"{value!r}: give at least two positive channel counts")
    return widths


class KernelWidth(click.ParamType):  # type: ignore[type-arg]
    """A prior's kernel width: 'auto' (None: chosen on the validation split) or a number in [0.01, 10]."""

    name = "WIDTH|auto"
    numbers = FiniteFloatRange(0.01, 10.0)

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float | None:
        if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
            return None
        width: float = self.numbers.convert(value, param, ctx)
        return width


def kernel_width_option(func: F) -> F:
    return click.option(
        "--bandwidth", type=KernelWidth(), default="auto", show_default=True,
        help="Kernel width, as a fraction of the posterior means' spread per latent dimension; 'auto' takes "
             "the narrowest whose samples repeat training windows note for note about as rarely as the "
             "validation tunes do.")(func)


def log(line: str) -> None:
    """Training progress: one line to stderr."""
    click.echo(line, err=True)


def override(config: object, **values: object) -> None:
    """Set each config field whose option was given (None means: keep the preset's value)."""
    for key, value in values.items():
        if value is not None:
            setattr(config, key, value)


@click.group(cls=GenmediaGroup)
def train() -> None:
    """Train models and export them to ONNX (pip install 'genmedia[train]')."""


@train.command("level")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of VGLC .txt maps; its legend JSON is found here or in the parent folder.")
@click.option("--legend", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="VGLC legend JSON, if it is elsewhere.")
@click.option("--name", default="smb-level-vae", show_default=True, help="Model name (file stem).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("models"), show_default=True,
              help="Folder for the exported .onnx files and metadata.")
@click.option("--preset", type=click.Choice(["default", "tiny", "conditional", "tiny-conditional"]),
              default="default", show_default=True,
              help="conditional: the model that makes the level you ask for (genmedia level sample --enemies ...); "
                   "tiny*: seconds-long runs for tests.")
@click.option("--steps", type=click.IntRange(1), default=None, help="Optimiser steps (default: the preset's, 5000).")
@click.option("--latent", type=click.IntRange(1), default=None, help="Latent channels per 8 columns (default 16).")
@click.option("--beta", type=FiniteFloatRange(0.0), default=None,
              help="KL weight after its warm-up (default 0.25): higher makes the latent carry less of each map "
                   "(plainer samples, and a conditional model leans more on the bins asked for); lower, more.")
@click.option("--control-weight", type=FiniteFloatRange(0.0), default=None,
              help="Conditional models: weight of the control loss against the ELBO (default 1.0).")
@click.option("--init", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Start from a trained level model (its .json): a conditional model starts from an "
                   "unconditional one of the same sizes, its new conditioning weights at zero.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@checkpoint_option
@max_minutes_option
@device_option
@overwrite_option
def train_level(data: Path, legend: Path | None, name: str, out: Path, preset: str, steps: int | None,
                latent: int | None, beta: float | None, control_weight: float | None, init: Path | None, seed: int,
                checkpoint: Path | None, max_minutes: float | None, device: str, overwrite: bool) -> None:
    """Train the convolutional level VAE (or, with --preset conditional, the conditional one) on a
    folder of tile maps and export it."""
    from genmedia.training import require_torch

    require_torch(device)
    limit = time_limit(max_minutes, checkpoint)
    from genmedia.fileio import check_writable
    from genmedia.training.level_vae import LevelVAEConfig
    from genmedia.training.runs import train_level_model

    check_writable([out / f"{name}.json"], overwrite=overwrite)
    config = LevelVAEConfig.preset(preset)
    config.seed = seed
    override(config, steps=steps, latent=latent, beta=beta, control_weight=control_weight)
    if control_weight is not None and not config.conditional:
        raise click.UsageError("--control-weight needs a conditional model (--preset conditional)")
    meta = train_level_model(data, config, legend=legend, init=init, name=name, out_dir=out,
                             command=replay_command(click.get_current_context()), checkpoint=checkpoint,
                             device=device, time_limit=limit, overwrite=overwrite, log=log)
    click.echo(f"exported {meta}", err=True)


@train.command("melody-data")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the sources into (OUT/SOURCE/{train,valid,test}/*.mid).")
@click.option("--jsb", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="JSB chorales, Jsb16thSeparated.npz (e.g. ../shared/data/jsb/Jsb16thSeparated.npz).")
@click.option("--collection", "collections", multiple=True, type=click.Choice(["ryansMammoth", "bach"]),
              default=("ryansMammoth", "bach"), show_default=True,
              help="music21 corpus collections to write (the others are reserved for evaluation).")
@click.option("--evaluation", default=None, metavar="COLLECTION",
              help="Instead: write this music21 collection, which genmedia never trains on (e.g. oneills1850), "
                   "as held-out tunes to evaluate on (OUT/COLLECTION/test/).")
@click.option("--limit", type=click.IntRange(1), default=None, help="At most this many files per collection.")
@overwrite_option
def train_melody_data(out: Path, jsb: Path | None, collections: tuple[str, ...], evaluation: str | None,
                      limit: int | None, overwrite: bool) -> None:
    """Write the melody training sources beyond Nottingham as MIDI files (needs music21)."""
    from genmedia.training import require_music21

    require_music21()
    from genmedia.training.melody_corpus import prepare, prepare_evaluation

    target = out / evaluation if evaluation else out
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise click.ClickException(f"{target}: exists and is not empty (use --overwrite to write into it)")
    if evaluation:
        try:
            info = prepare_evaluation(out, evaluation, limit=limit)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        click.echo(f"{evaluation}: {info['melodies']['test']} held-out tunes written to {target}", err=True)
        return
    summary = prepare(out, jsb_npz=jsb, collections=collections, limit=limit, log=log)
    for source, info in summary.items():
        click.echo(f"{source}: {info['melodies']} melodies written to {out / source}", err=True)


@train.command("melody")
@click.option("--data", required=True, multiple=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of MIDI files (repeat for several sources). A folder with train/, valid/ and test/ "
                   "subfolders is split by them; otherwise tunes are split by a hash of the file name.")
@click.option("--name", default="melody-2bar", show_default=True, help="Model name (file stem).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("models"), show_default=True)
@click.option("--preset", type=click.Choice(["default", "broad", "16bar", "tiny", "tiny16"]), default="default",
              show_default=True, help="default: the 2-bar model; broad: the 2-bar model with a wider latent "
                                      "(for several sources); 16bar: the hierarchical 16-bar model.")
@click.option("--steps", "train_steps", type=click.IntRange(1), default=None,
              help="Optimiser steps (of the end-to-end stage, for a model trained in stages).")
@click.option("--latent", type=click.IntRange(1), default=None, help="Latent dimensions (default: the preset's).")
@click.option("--beta", type=FiniteFloatRange(0.0), default=None, help="KL weight after warm-up.")
@click.option("--free-bits", type=FiniteFloatRange(0.0), default=None, help="Nats of KL per example left unpenalised.")
@click.option("--scheduled-sampling", type=FiniteFloatRange(0.0, 1.0), default=None,
              help="Share of decoder inputs taken from its own samples (ramped up over the first half).")
@click.option("--batch", type=click.IntRange(1), default=None, help="Windows per optimiser step.")
@click.option("--bar-pretrain", type=click.IntRange(0), default=None,
              help="Hierarchical models: steps of stage 1, each bar its own VAE (0: train end to end only).")
@click.option("--conductor-pretrain", type=click.IntRange(0), default=None,
              help="Hierarchical models: steps of stage 2, the conductor learning to emit the bar latents.")
@click.option("--lr", type=FiniteFloatRange(0, min_open=True), default=None,
              help="Learning rate (of the end-to-end stage); it decays to 0 on a cosine.")
@click.option("--attribute-reg", type=FiniteFloatRange(0.0), default=None, metavar="WEIGHT",
              help="Weight of the attribute regularisation (AR-VAE): latent dimensions 0-4 learn to order "
                   "windows by density, pitch, interval, syncopation and key, so that concept vectors "
                   "change one quality at a time (0: off, the default).")
@click.option("--chromatic", type=FiniteFloatRange(0.0, 1.0), default=None, metavar="SHARE",
              help="Share of training windows with 1-3 notes moved a semitone (out of key), so that the "
                   "key's concept vector has out-of-key notes to reach for (0: off, the default).")
@click.option("--init", default=None, metavar="MODEL",
              help="Start from a trained melody model of the same preset (its .json or name): only the "
                   "end-to-end stage runs, e.g. to train a shipped model further on more sources.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@checkpoint_option
@max_minutes_option
@device_option
@overwrite_option
def train_melody(data: tuple[Path, ...], name: str, out: Path, preset: str, train_steps: int | None,
                 latent: int | None, beta: float | None, free_bits: float | None, scheduled_sampling: float | None,
                 batch: int | None, bar_pretrain: int | None, conductor_pretrain: int | None, lr: float | None,
                 attribute_reg: float | None, chromatic: float | None, init: str | None, seed: int,
                 checkpoint: Path | None, max_minutes: float | None, device: str, overwrite: bool) -> None:
    """Train a melody VAE (2-bar flat, or 16-bar hierarchical) on a folder of MIDI files and export it."""
    from genmedia.training import require_torch

    require_torch(device)
    limit = time_limit(max_minutes, checkpoint)
    from genmedia.fileio import check_writable
    from genmedia.melody.attributes import ATTRIBUTES
    from genmedia.training.melody_net import MelodyVAEConfig
    from genmedia.training.runs import NoTrainingData, train_melody_model

    check_writable([out / f"{name}.json"], overwrite=overwrite)
    config = MelodyVAEConfig.preset(preset)
    config.seed = seed
    override(config, train_steps=train_steps, latent=latent, beta=beta, free_bits=free_bits,
             scheduled_sampling=scheduled_sampling, batch=batch, bar_pretrain=bar_pretrain,
             conductor_pretrain=conductor_pretrain, lr=lr, attribute_reg=attribute_reg,
             chromatic=chromatic)
    if config.bar_pretrain and not config.hierarchical:
        raise click.UsageError("--bar-pretrain needs a hierarchical model (--preset 16bar or tiny16)")
    if config.attribute_reg and config.latent < len(ATTRIBUTES):
        raise click.UsageError(f"--attribute-reg needs a latent of at least {len(ATTRIBUTES)} dimensions "
                               f"(this one has {config.latent}; see --latent)")
    try:
        meta = train_melody_model(list(data), config, name=name, out_dir=out,
                                  command=replay_command(click.get_current_context()), checkpoint=checkpoint,
                                  init=init, device=device, time_limit=limit,
                                  overwrite=overwrite, log=log)
    except NoTrainingData as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"exported {meta}", err=True)


@train.command("melody-prior")
@click.option("--model", "model_name", required=True, help="Melody model name or metadata .json to refit.")
@click.option("--data", required=True, multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The folders the model was trained on (their training splits are used); repeat for each.")
@kernel_width_option
def train_melody_prior(model_name: str, data: tuple[Path, ...], bandwidth: float | None) -> None:
    """Fit a trained melody model's sampling prior (no torch needed) and store it in its metadata."""
    from genmedia.melody.model import attach_prior
    from genmedia.registry import get_model

    info = get_model(model_name, task="melody")
    summary = attach_prior(info.metadata_path, list(data), bandwidth=bandwidth,
                           command=replay_command(click.get_current_context()))
    click.echo(f"prior fitted ({summary['fitted_on']}, kernel width {summary['bandwidth']:g}) and stored in "
               f"{info.metadata_path}", err=True)


@train.command("melody-concepts")
@click.option("--model", "model_name", required=True, help="Melody model name or metadata .json.")
@click.option("--data", required=True, multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The folders the model was trained on (their training splits are used); repeat for each.")
@click.option("--max-windows", type=click.IntRange(4), default=20_000, show_default=True,
              help="Use at most this many training windows (a seeded choice beyond it).")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True)
def train_melody_concepts(model_name: str, data: tuple[Path, ...], max_windows: int, seed: int) -> None:
    """Compute a melody model's concept vectors (no torch needed) and store them beside it.

    For each attribute (density, pitch, interval, syncopation, key) the vector is the mean latent
    of the training windows in the attribute's top quartile minus that of its bottom quartile;
    `genmedia music transform` and `music sample --attribute` move melodies along them."""
    from genmedia.melody.concepts import attach_concepts
    from genmedia.registry import get_model

    info = get_model(model_name, task="melody")
    summary = attach_concepts(info.metadata_path, list(data), max_windows=max_windows, seed=seed,
                              command=replay_command(click.get_current_context()))
    click.echo(f"concept vectors ({', '.join(summary['attributes'])}) computed from {summary['fitted_on']} "
               f"and stored in {info.metadata_path}", err=True)


@train.command("melody-styles")
@click.option("--model", "model_name", required=True, help="Melody model name or metadata .json.")
@click.option("--data", required=True, multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder of tunes named as the Nottingham collection names them (jigs*, reels*, hpps*, "
                   "waltzes*); its training split is used. Repeatable.")
@kernel_width_option
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True)
def train_melody_styles(model_name: str, data: tuple[Path, ...], bandwidth: float | None, seed: int) -> None:
    """Fit a melody model's style priors (no torch needed) and store them beside it.

    Each style (jig, reel, hornpipe, waltz) gets a kernel density over the posterior means of its
    training tunes' windows, as the model's own sampling prior is fitted over all of them;
    `genmedia music sample --style NAME` draws from it."""
    from genmedia.melody.styles import attach_styles
    from genmedia.registry import get_model

    info = get_model(model_name, task="melody")
    entry = attach_styles(info.metadata_path, list(data), seed=seed, bandwidth=bandwidth,
                          command=replay_command(click.get_current_context()))
    found = ", ".join(f"{name} ({s['tunes']} tunes, {s['time_signature']}, kernel width {s['bandwidth']:g})"
                      for name, s in entry["styles"].items())
    click.echo(f"style priors {found} stored in {info.metadata_path}", err=True)


@train.command("denoiser")
@click.option("--gray", "gray_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of gray training images (e.g. train400).")
@click.option("--color", "color_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of color training images (e.g. cbsd432); one in ten (by a hash of the name) is held out.")
@click.option("--valid-gray", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder of gray validation images (e.g. set12).")
@click.option("--name", default="denoise-unet", show_default=True, help="Model name (file stem).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("models"), show_default=True)
@click.option("--preset", type=click.Choice(["default", "tiny"]), default="default", show_default=True)
@click.option("--steps", "train_steps", type=click.IntRange(1), default=None, help="Optimiser steps.")
@click.option("--batch", type=click.IntRange(1), default=None, help="Patches per optimiser step.")
@click.option("--widths", callback=parse_widths, default=None,
              help="Channels per U-Net level, e.g. 48,96,192,384 (bench/denoiser_size.py times them).")
@click.option("--fold", type=click.IntRange(1), default=None, help="Pixel block side folded into channels first.")
@click.option("--top-convs", type=click.IntRange(1), default=None,
              help="3x3 convolutions in the two full-detail (level 0) blocks [default: as every block, 2].")
@click.option("--lr", type=FiniteFloatRange(0, min_open=True), default=None,
              help="Peak learning rate (it decays to 0 on a cosine).")
@click.option("--init", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Start from a trained denoiser (its .onnx file or a checkpoint) with the same levels, at most "
                   "as many channels per level and at most as many convolutions per block; the new channels start "
                   "switched off and the new convolutions as the identity.")
@click.option("--precision", type=click.Choice(PRECISIONS), default=None,
              help="Arithmetic of the forward and backward passes [default: fp32]. bf16 (autocast; weights stay "
                   "float32) is about twice as fast on CPUs with AVX512-BF16 or AMX; the export is float32.")
@click.option("--camera", type=FiniteFloatRange(0, 1), default=None,
              help="Share of patches degraded by the camera pipeline (sensor noise, demosaicing, tone curve, "
                   "sharpening, resizing, JPEG) instead of white noise [default: 0].")
@click.option("--camera-level", type=click.Choice(CAMERA_LEVELS), default=None,
              help="Noise-level input of camera patches: the patch estimator's reading, or the RMS of the "
                   "degradation (what the second look reads at run time) [default: estimate].")
@click.option("--jpeg", type=FiniteFloatRange(0, 1), default=None,
              help="Share of patches given white noise and then saved as JPEG [default: 0].")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@checkpoint_option
@max_minutes_option
@device_option
@overwrite_option
def train_denoiser(gray_dir: Path, color_dir: Path, valid_gray: Path | None, name: str, out: Path, preset: str,
                   train_steps: int | None, batch: int | None, widths: tuple[int, ...] | None, fold: int | None,
                   top_convs: int | None, lr: float | None, init: Path | None, precision: str | None,
                   camera: float | None, camera_level: str | None, jpeg: float | None, seed: int,
                   checkpoint: Path | None, max_minutes: float | None, device: str, overwrite: bool) -> None:
    """Train the U-Net denoiser (blind: white noise of sigma 0-55 and, with --camera/--jpeg, camera
    noise and JPEG artefacts; gray and color) and export it."""
    from genmedia.training import require_torch

    require_torch(device)
    limit = time_limit(max_minutes, checkpoint)
    from genmedia.fileio import check_writable
    from genmedia.training.denoiser import DenoiserConfig
    from genmedia.training.runs import train_denoiser_model

    check_writable([out / f"{name}.json"], overwrite=overwrite)
    config = DenoiserConfig.preset(preset)
    config.seed = seed
    override(config, train_steps=train_steps, batch=batch, widths=widths, fold=fold, top_convs=top_convs, lr=lr,
             precision=precision, camera=camera, camera_level=camera_level, jpeg=jpeg)
    if config.camera + config.jpeg > 1:
        raise click.UsageError("--camera and --jpeg add up to more than 1")
    meta = train_denoiser_model(gray_dir, color_dir, valid_gray, config, name=name, out_dir=out,
                                command=replay_command(click.get_current_context()), init=init,
                                checkpoint=checkpoint, device=device, time_limit=limit, overwrite=overwrite,
                                log=log)
    click.echo(f"exported {meta}", err=True)
