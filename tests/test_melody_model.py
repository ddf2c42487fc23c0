"""The melody VAE: tiny training runs, ONNX/torch parity, and the music commands."""

from __future__ import annotations

import copy
import json
import wave

import numpy as np
import pytest
from click.testing import CliRunner

from genmedia.cli import cli

from midi_fixtures import scale_tune, write_midi

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tunes")
    for i in range(24):
        write_midi(folder / f"tune{i:02d}.mid", [scale_tune(4, base=55 + i % 12)])
    return folder


@pytest.fixture(scope="module")
def tiny(corpus, tmp_path_factory):
    from genmedia.training.melody_vae import MelodyVAEConfig, export, load_melody_data, train

    data, summary = load_melody_data(corpus, 32)
    model = train(data, MelodyVAEConfig.preset("tiny"))
    out = tmp_path_factory.mktemp("model")
    meta = export(model, summary, name="tiny-melody", out_dir=out, command="test", data_dir=corpus, metrics={})
    return model, meta


@pytest.fixture(scope="module")
def tiny16(corpus, tmp_path_factory):
    """A hierarchical model (conductor + bar decoder) over 4 bars, trained for a few steps."""
    from genmedia.training.melody_vae import MelodyVAEConfig, export, load_melody_data, train

    cfg = MelodyVAEConfig.preset("tiny16")
    data, summary = load_melody_data(corpus, cfg.steps)
    model = train(data, cfg)
    out = tmp_path_factory.mktemp("model16")
    meta = export(model, summary, name="tiny-melody-16", out_dir=out, command="test", data_dir=corpus, metrics={})
    return model, meta


def staged_config():
    """tiny16 trained in stages: a few steps of each (bar VAEs, conductor to bar latents, end to end),
    with every bar's encoding pooled into the latent as the 16-bar preset does."""
    from dataclasses import replace

    from genmedia.training.melody_vae import MelodyVAEConfig

    return replace(MelodyVAEConfig.preset("tiny16"), bar_pretrain=3, conductor_pretrain=3, train_steps=2,
                   enc_bar_pool=3)


@pytest.fixture(scope="module")
def tiny16s(corpus, tmp_path_factory):
    """A hierarchical model trained in stages; its conductor emits bar latents (a linear output)."""
    from genmedia.training.melody_vae import export, load_melody_data, train

    cfg = staged_config()
    data, summary = load_melody_data(corpus, cfg.steps)
    model = train(data, cfg)
    out = tmp_path_factory.mktemp("model16s")
    meta = export(model, summary, name="tiny-melody-16s", out_dir=out, command="test", data_dir=corpus, metrics={})
    return model, meta


@pytest.mark.parametrize("which", ["tiny", "tiny16", "tiny16s"])
def test_logits_parity_with_torch(which, request):
    from genmedia.melody.model import MelodyModel

    model, meta = request.getfixturevalue(which)
    ort = MelodyModel.load(meta)
    steps = model.cfg.steps
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, model.cfg.vocab, (3, steps))
    z = rng.standard_normal((3, model.cfg.latent)).astype(np.float32)
    with torch.no_grad():
        mean, _ = model.encoder(torch.from_numpy(tokens))
        expected = model.decode_teacher_forced(torch.from_numpy(z), torch.from_numpy(tokens)).numpy()
    assert np.abs(ort.encode(tokens) - mean.numpy()).max() <= 1e-4
    got = ort.teacher_forced_logits(z, tokens)
    assert got.shape == expected.shape == (3, steps, model.cfg.vocab)
    assert np.abs(got - expected).max() <= 1e-4
    assert ort.segments == (1 if which == "tiny" else steps // 16)


@pytest.mark.parametrize("which", ["tiny", "tiny16", "tiny16s"])
def test_greedy_decoding_matches_torch(which, request):
    from genmedia.melody.model import MelodyModel
    from genmedia.training.melody_vae import greedy_decode

    model, meta = request.getfixturevalue(which)
    z = np.random.default_rng(1).standard_normal((8, model.cfg.latent)).astype(np.float32)
    expected = greedy_decode(model, torch.from_numpy(z), model.cfg.steps).numpy()
    assert np.array_equal(MelodyModel.load(meta).decode(z), expected)


def test_hierarchical_decoder_restarts_each_bar_from_its_embedding(tiny16):
    """Teacher forcing through torch: changing one bar's embedding changes only that bar's logits."""
    model, _ = tiny16
    z = torch.randn(2, model.cfg.latent)
    tokens = torch.randint(0, model.cfg.vocab, (2, model.cfg.steps))
    with torch.no_grad():
        base = model.decode_teacher_forced(z, tokens)
        real = model.conductor.forward

        def shifted(zz):
            bars = real(zz).clone()
            bars[:, 2] += 1.0
            return bars

        model.conductor.forward = shifted
        try:
            moved = model.decode_teacher_forced(z, tokens)
        finally:
            model.conductor.forward = real
    changed = (base - moved).abs().amax(dim=(0, 2)) > 1e-6
    assert changed[32:48].all() and not changed[:32].any() and not changed[48:].any()


def test_staged_model_records_its_stages_and_emits_unbounded_bar_latents(tiny16s):
    model, meta = tiny16s
    stages = json.loads(meta.read_text())["training"]["stages"]
    assert [stages[k]["steps"] for k in ("bar_vae", "conductor_to_bar_latents", "end_to_end")] == [3, 3, 2]
    conductor = copy.deepcopy(model.conductor)
    with torch.no_grad():
        conductor.out.bias.fill_(3.0)
        bars = conductor(torch.randn(4, model.cfg.latent))
    assert bars.min() > 1.0  # not squashed by tanh: a bar latent may lie anywhere


def test_each_training_stage_moves_only_its_own_part(corpus, tmp_path):
    """Stage 1 trains the bar encoder and decoder; stage 2 only the upper encoder and the conductor;
    stage 3 everything but the training-only bar head."""
    from genmedia.training.melody_vae import MelodyVAE, load_melody_data, train

    cfg = staged_config()
    data, _ = load_melody_data(corpus, cfg.steps)
    ckpt = tmp_path / "run.pt"
    train(data, cfg, checkpoint=ckpt)

    torch.manual_seed(cfg.seed)
    start = MelodyVAE(cfg).state_dict()
    after = [torch.load(tmp_path / f"run.{s}.pt", weights_only=False)["model"] for s in ("bars", "conductor")]
    after.append(torch.load(ckpt, weights_only=False)["model"])
    stage2 = ("encoder.bar_rnn.", "encoder.head.", "encoder.pool.", "conductor.")

    def moved(a, b):
        return {k.split(".")[0] + ("." + k.split(".")[1] if k.startswith("encoder") else "")
                for k in a if not torch.equal(a[k], b[k])}

    assert moved(start, after[0]) == {"encoder.embed", "encoder.rnn", "bar_head", "init", "step"}
    assert moved(after[0], after[1]) == {k.rstrip(".") for k in stage2}
    assert moved(after[1], after[2]) == {"encoder.embed", "encoder.rnn", "encoder.bar_rnn", "encoder.head",
                                         "encoder.pool", "conductor", "init", "step"}


def test_bar_pooling_starts_at_zero_and_leaves_stage_1_as_it_was(corpus, tmp_path):
    """The encoder's pooling of every bar starts as a zero map drawn from its own stream: the model
    encodes as one without it, and stage 1 (which does not train it) ends with the same weights."""
    from dataclasses import replace

    from genmedia.training.melody_vae import MelodyVAE, load_melody_data, train

    cfg = staged_config()
    plain = replace(cfg, enc_bar_pool=0)
    tokens = torch.randint(0, cfg.vocab, (3, cfg.steps))
    models = []
    for c in (cfg, plain):
        torch.manual_seed(c.seed)
        models.append(MelodyVAE(c))
    with torch.no_grad():
        assert torch.equal(models[0].encoder(tokens)[0], models[1].encoder(tokens)[0])
    data, _ = load_melody_data(corpus, cfg.steps)
    for c, name in ((cfg, "pool"), (plain, "plain")):
        train(data, replace(c, conductor_pretrain=0, train_steps=0), checkpoint=tmp_path / f"{name}.pt")
    pooled, alone = (torch.load(tmp_path / f"{n}.bars.pt", weights_only=False)["model"] for n in ("pool", "plain"))
    assert set(pooled) - set(alone) == {k for k in pooled if k.startswith("encoder.pool.")} != set()
    for key, value in alone.items():
        assert torch.equal(pooled[key], value), key
    with torch.no_grad():
        models[0].encoder.pool[-1].weight.fill_(0.1)
        assert not torch.equal(models[0].encoder(tokens)[0], models[1].encoder(tokens)[0])


def test_a_staged_run_paused_at_every_step_ends_with_the_same_weights(corpus, tmp_path):
    """--max-minutes across the stages: each stage resumes from its own checkpoint."""
    from genmedia.errors import TrainingPaused
    from genmedia.training.melody_vae import load_melody_data, train

    cfg = staged_config()
    data, _ = load_melody_data(corpus, cfg.steps)
    whole = train(data, cfg)
    pauses = 0
    while True:
        try:
            resumed = train(data, cfg, checkpoint=tmp_path / "run.pt", time_limit=0.0)
            break
        except TrainingPaused:
            pauses += 1
    assert pauses >= 3  # at least once in each stage
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_scheduled_sampling_feeds_the_given_inputs_one_step_late(tiny):
    """With scheduled sampling the decoder reads `inputs` (its own samples), not the targets:
    changing input k changes the logits from step k + 1 on, and nothing before."""
    model, _ = tiny
    z = torch.randn(2, model.cfg.latent)
    tokens = torch.randint(0, model.cfg.vocab, (2, model.cfg.steps))
    inputs = tokens.clone()
    inputs[:, 10] = (tokens[:, 10] + 7) % model.cfg.vocab
    with torch.no_grad():
        base = model.decode_teacher_forced(z, tokens)
        mixed = model.decode_teacher_forced(z, tokens, inputs)
        assert torch.equal(mixed, model.decode_teacher_forced(z, inputs))
    changed = (base - mixed).abs().amax(dim=(0, 2)) > 1e-6
    assert not changed[:11].any() and changed[11]


def test_sampling_is_seeded(tiny):
    from genmedia.melody.model import MelodyModel, sample_melodies

    vae = MelodyModel.load(tiny[1])
    a, b, c = (sample_melodies(vae, count=5, seed=s) for s in (1, 1, 2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_music_commands(tiny, corpus, tmp_path):
    meta = str(tiny[1])
    run = CliRunner()
    sampled = run.invoke(cli, ["music", "sample", "--model", meta, "--count", "3", "--seed", "4", "--wav", "-o",
                               str(tmp_path / "s")], catch_exceptions=False)
    assert sampled.exit_code == 0, sampled.output
    names = [f"melody-00{i}.{e}" for i in range(3) for e in ("mid", "wav")]
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == names
    a, b = corpus / "tune00.mid", corpus / "tune05.mid"
    morph = run.invoke(cli, ["music", "interpolate", str(a), str(b), "--model", meta, "--steps", "4", "--wav", "-o",
                             str(tmp_path / "m")], catch_exceptions=False)
    assert morph.exit_code == 0, morph.output
    names = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert names == ["morph.mid", "morph.wav", "step-00.mid", "step-01.mid", "step-02.mid", "step-03.mid"]
    with wave.open(str(tmp_path / "m" / "morph.wav")) as w:
        assert w.getframerate() == 44100 and w.getnframes() > 44100 * 4 * 60 / 120  # 4 steps of 2 bars at 120 BPM
    even = run.invoke(cli, ["music", "interpolate", str(a), str(b), "--model", meta, "--steps", "4", "--oversample",
                            "1", "-o", str(tmp_path / "m1")], catch_exceptions=False)
    assert even.exit_code == 0, even.output
    for end in ("step-00.mid", "step-03.mid"):  # the ends are the same decodes, however the steps are chosen
        assert (tmp_path / "m1" / end).read_bytes() == (tmp_path / "m" / end).read_bytes()
    bad = tmp_path / "bad.mid"
    bad.write_text("not midi")
    failed = run.invoke(cli, ["music", "interpolate", str(bad), str(b), "--model", meta, "-o", str(tmp_path / "x")])
    assert failed.exit_code == 1 and failed.output == f"error: {bad}: is not a MIDI file (no MThd header)\n"
    assert not (tmp_path / "x").exists()
    rendered = run.invoke(cli, ["music", "render", str(a), "-o", str(tmp_path / "a.wav")])
    assert rendered.exit_code == 0 and (tmp_path / "a.wav").stat().st_size > 44
    report = run.invoke(cli, ["music", "eval", str(corpus), "--model", meta, "--samples", "10", "--json"],
                        catch_exceptions=False)
    assert report.exit_code == 0, report.output
    figures = json.loads(report.output)
    assert figures["tunes"] == 24 and figures["samples"] == 10 and 0 <= figures["reconstruction_accuracy_greedy"] <= 1
    assert figures["data_in_key"] == 1.0  # scales are wholly diatonic
    assert figures["refined_windows"] == min(256, figures["windows"])
    few = run.invoke(cli, ["music", "eval", str(corpus), "--model", meta, "--samples", "2", "--refine-windows", "5",
                           "--json"], catch_exceptions=False)
    assert json.loads(few.output)["refined_windows"] == 5 and json.loads(few.output)["refined_first_windows"] == 5


def test_train_melody_cli(corpus, tmp_path):
    out = tmp_path / "models"
    result = CliRunner().invoke(cli, ["train", "melody", "--data", str(corpus), "--preset", "tiny", "--out", str(out),
                                      "--scheduled-sampling", "0.5"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "melody-2bar.json").read_text())
    assert meta["task"] == "melody"
    assert set(meta["files"]) == {"encoder", "decoder_init", "decoder_step", "prior"}
    assert meta["prior"]["type"] == "kernel-density"
    from genmedia.melody.prior import WIDTHS

    shares = meta["prior"]["bandwidth_choice"]["sample_repeat_share_by_width"]  # chosen on the validation split
    assert meta["prior"]["bandwidth"] in WIDTHS and list(shares)[-1] == f"{meta['prior']['bandwidth']:g}"
    assert meta["prior"]["command"] == meta["training"]["command"]
    assert meta["regularisation"] == {"beta": 0.2, "free_bits_nats": 128.0, "kl_warmup_steps": 1,
                                      "scheduled_sampling": 0.5, "bag_of_notes_weight": 0.0,
                                      "attribute_reg": 0.0, "attribute_sharpness": 10.0}
    assert meta["latent"] == {"size": 4}  # no dimension is tied to an attribute
    assert meta["training"]["command"] == (f"genmedia train melody --data {corpus} --out {out} --preset tiny "
                                           "--scheduled-sampling 0.5")
    assert set(meta["metrics"]) >= {"greedy_accuracy_train"}


def test_attribute_loss_rewards_dimensions_that_order_windows_by_their_attributes():
    from genmedia.training.melody_losses import attribute_loss

    values = torch.tensor([[1.0, 60.0], [2.0, 60.0], [3.0, float("nan")], [4.0, 72.0]])
    ordered = torch.stack([torch.arange(4.0), torch.arange(4.0)], 1)
    assert attribute_loss(ordered, values, 10.0).item() < 1e-3  # both dims order the windows as their attribute
    # reversed: every counted pair disagrees, |tanh - sign| ~ 2 per attribute
    assert attribute_loss(-ordered, values, 10.0).item() == pytest.approx(4.0, abs=1e-3)
    # the tied (60, 60) and the undefined (NaN) pairs are left out: the only counted pairs of attribute 1
    # are (60, 72) ones, so swapping the tied windows' codes changes nothing
    swapped = ordered.clone()
    swapped[[0, 1], 1] = swapped[[1, 0], 1]
    assert attribute_loss(swapped, values, 10.0).item() < 1e-3
    assert attribute_loss(ordered, torch.full((4, 2), 5.0), 10.0).item() == 0.0  # nothing to order
    # the gradient pushes the codes towards the attribute's order
    z = torch.zeros(4, 2, requires_grad=True)
    attribute_loss(z, values, 10.0).backward()
    assert (z.grad[:, 0].diff() < 0).all()  # a step down the loss raises the code of higher-density windows


def test_train_melody_attribute_reg_ties_latent_dimensions_to_attributes(corpus, tmp_path):
    out = tmp_path / "models"
    base = ["train", "melody", "--data", str(corpus), "--preset", "tiny", "--out", str(out), "--attribute-reg", "2"]
    small = CliRunner().invoke(cli, base)
    assert small.exit_code == 2 and "--attribute-reg needs a latent of at least 5 dimensions" in small.output
    result = CliRunner().invoke(cli, base + ["--latent", "6", "--steps", "6"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "melody-2bar.json").read_text())
    assert meta["regularisation"]["attribute_reg"] == 2.0
    assert meta["latent"]["attribute_dims"] == {"density": 0, "pitch": 1, "interval": 2, "syncopation": 3, "key": 4}
    assert meta["training"]["config"]["attribute_reg"] == 2.0 and meta["latent"]["size"] == 6


def test_chromatic_alteration_moves_a_few_notes_of_a_share_of_windows_a_semitone():
    from genmedia.melody.attributes import ATTRIBUTES, attribute_table
    from genmedia.melody.midi import HOLD, MAX_PITCH, MIN_PITCH, REST, pitch_token as t
    from genmedia.training.melody_data import alter_batch

    top = 2 + MAX_PITCH - MIN_PITCH
    row = np.array([t(60), HOLD, t(62), REST, t(64), HOLD, t(65), t(67)] * 4)
    batch = np.stack([row] * 400 + [np.where(row >= 2, top, row)] * 100 + [np.full(32, REST)] * 10)
    out = alter_batch(batch, np.random.default_rng(1), 0.3)
    assert np.array_equal(alter_batch(batch, np.random.default_rng(1), 0.0), batch)
    moved = out != batch
    assert np.array_equal(out < 2, batch < 2)  # holds and rests stay where they were
    assert set(np.unique(out[moved] - batch[moved])) <= {-1, 1} and out.max() <= top  # a semitone, in range
    assert (out[400:500][moved[400:500]] == top - 1).all()  # at the top of the range a note can only go down
    per_row = moved.sum(1)
    assert set(np.unique(per_row[per_row > 0])) == {1, 2, 3} and not moved[500:].any()
    assert 0.25 < (per_row[:500] > 0).mean() < 0.35
    key = ATTRIBUTES.index("key")
    before, after = attribute_table(batch[:400])[:, key], attribute_table(out[:400])[:, key]
    assert (before == 1.0).all() and (after[per_row[:400] > 0] < 1.0).mean() > 0.5  # out-of-key notes


def test_train_melody_records_its_chromatic_share(corpus, tmp_path):
    out = tmp_path / "models"
    result = CliRunner().invoke(cli, ["train", "melody", "--data", str(corpus), "--preset", "tiny", "--out", str(out),
                                      "--steps", "4", "--chromatic", "0.25"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "melody-2bar.json").read_text())
    assert meta["training"]["config"]["chromatic"] == 0.25 and "--chromatic 0.25" in meta["training"]["command"]
    bad = CliRunner().invoke(cli, ["train", "melody", "--data", str(corpus), "--preset", "tiny", "--out", str(out),
                                   "--chromatic", "1.5"])
    assert bad.exit_code == 2 and "--chromatic" in bad.output


def test_fitted_prior_samples_around_the_training_latents(corpus, tmp_path):
    from genmedia.melody.model import MelodyModel, sample_melodies
    from genmedia.melody.prior import KernelPrior, NormalPrior, load_prior

    out = tmp_path / "models"
    args = ["train", "melody", "--data", str(corpus), "--preset", "tiny", "--out", str(out), "--name", "m"]
    assert CliRunner().invoke(cli, args, catch_exceptions=False).exit_code == 0
    vae = MelodyModel.load(out / "m.json")
    prior = load_prior(vae.info, vae.latent)
    assert isinstance(prior, KernelPrior) and isinstance(load_prior(vae.info, vae.latent, "normal"), NormalPrior)
    z = prior.sample(np.random.default_rng(0), 4000)
    assert np.allclose(z.mean(0), prior.means.mean(0), atol=0.1)
    # KDE variance = spread of the means plus the kernel's (bandwidth * std)^2
    assert np.allclose(z.std(0), prior.means.std(0) * np.sqrt(1 + prior.bandwidth**2), rtol=0.1, atol=0.02)
    assert "bandwidth_choice" in vae.info.metadata["prior"]  # the width was chosen on export (prior_bandwidth None)
    fitted = sample_melodies(vae, count=6, seed=3)
    assert np.array_equal(fitted, sample_melodies(vae, count=6, seed=3))
    assert not np.array_equal(fitted, sample_melodies(vae, count=6, seed=3, prior="normal"))
    # Refit with another bandwidth through the command that needs no torch; the metadata records it.
    refit = CliRunner().invoke(cli, ["train", "melody-prior", "--model", str(out / "m.json"), "--data", str(corpus),
                                     "--bandwidth", "0.5"], catch_exceptions=False)
    assert refit.exit_code == 0, refit.output
    meta = json.loads((out / "m.json").read_text())
    assert meta["prior"]["bandwidth"] == 0.5
    assert meta["prior"]["command"] == (f"genmedia train melody-prior --model {out / 'm.json'} --data {corpus} "
                                        "--bandwidth 0.5")
    (out / "m.prior.npy").write_bytes((out / "m.prior.npy").read_bytes()[:-4] + b"\0\0\0\0")
    broken = CliRunner().invoke(cli, ["music", "sample", "--model", str(out / "m.json"), "--seed", "1", "-o",
                                      str(tmp_path / "s")])
    assert broken.exit_code == 1 and "sha256 does not match" in broken.output


def test_bag_of_notes_loss_scores_each_bar_from_its_own_embedding():
    """Uniform predictions cost log(vocab) per token; the loss reaches the encoder through the
    conductor even when the decoder is blind to z (its purpose: a short path to the latent)."""
    from genmedia.training.melody_vae import MelodyVAE, MelodyVAEConfig, bag_of_notes_loss

    cfg = MelodyVAEConfig.preset("tiny16")
    cfg.bag_of_notes = 1.0
    model = MelodyVAE(cfg)
    tokens = torch.randint(0, cfg.vocab, (3, cfg.steps))
    with torch.no_grad():
        model.bag.weight.zero_()
        model.bag.bias.zero_()
        assert float(bag_of_notes_loss(model, torch.randn(3, cfg.latent), tokens)) == pytest.approx(
            cfg.steps * np.log(cfg.vocab), rel=1e-5)
    model = MelodyVAE(cfg)
    mean, _ = model.encoder(tokens)
    bag_of_notes_loss(model, mean, tokens).backward()
    assert model.step.rnn.weight_ih_l0.grad is None  # the decoder took no part
    assert model.encoder.head.weight.grad.abs().sum() > 0


def test_cli_trains_in_stages_and_records_them(corpus, tmp_path):
    out, ckpt = tmp_path / "out", tmp_path / "run.pt"
    args = ["train", "melody", "--data", str(corpus), "--preset", "tiny16", "--steps", "2", "--bar-pretrain", "3",
            "--conductor-pretrain", "2", "--name", "m", "--out", str(out), "--checkpoint", str(ckpt)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert [line.split(":")[0] for line in result.output.splitlines() if line.startswith("stage")] == [
        "stage 1 of 3", "stage 2 of 3", "stage 3 of 3"]
    meta = json.loads((out / "m.json").read_text())
    assert meta["training"]["command"].endswith("--steps 2 --bar-pretrain 3 --conductor-pretrain 2 "
                                                f"--checkpoint {ckpt}")
    assert [torch.load(tmp_path / f"run.{s}.pt", weights_only=False)["step"] for s in ("bars", "conductor")] == [3, 2]
    flat = CliRunner().invoke(cli, [*args[:4], "--preset", "tiny", "--bar-pretrain", "3", "--out", str(tmp_path / "f")])
    assert flat.exit_code == 2 and "--bar-pretrain needs a hierarchical model" in flat.output


# Refining a model's latent at run time (genmedia.melody.refine).


@pytest.mark.parametrize("which", ["tiny", "tiny16", "tiny16s"])
def test_numpy_gradient_matches_autograd(which, request):
    import torch.nn.functional as F

    from genmedia.melody.model import MelodyModel

    model, meta = request.getfixturevalue(which)
    vae = MelodyModel.load(meta)
    decoder = vae.differentiable
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, model.cfg.vocab, (3, model.cfg.steps))
    z = rng.standard_normal((3, model.cfg.latent))
    zt = torch.tensor(z, dtype=torch.float32, requires_grad=True)
    logits = model.decode_teacher_forced(zt, torch.from_numpy(tokens))
    F.cross_entropy(logits.transpose(1, 2), torch.from_numpy(tokens), reduction="sum").backward()
    grad = decoder.nll_gradient(z, tokens, model.cfg.vocab)
    assert np.abs(zt.grad.numpy()).max() > 1e-3  # a gradient to match
    assert np.allclose(grad, zt.grad.numpy(), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("which", ["tiny", "tiny16s"])
def test_refined_latents_decode_at_least_as_well(which, request):
    from genmedia.melody.model import MelodyModel

    _, meta = request.getfixturevalue(which)
    vae = MelodyModel.load(meta)
    tokens = np.random.default_rng(2).integers(2, 20, (6, vae.steps))  # far from anything it learnt
    before = (vae.decode(vae.encode(tokens)) == tokens).mean(1)
    z = vae.encode(tokens, refine=True)
    after = (vae.decode(z) == tokens).mean(1)
    assert np.all(after >= before) and after.mean() > before.mean()
    assert np.array_equal(z, vae.encode(tokens, refine=True))  # deterministic


def test_melody_sessions_run_one_thread_unless_asked(tiny):
    from genmedia.melody.model import MelodyModel

    assert MelodyModel.load(tiny[1]).threads == 1 and MelodyModel.load(tiny[1], threads=2).threads == 2


def test_refinement_refuses_graphs_it_cannot_read(tiny16s):
    from genmedia.melody.model import MelodyModel
    from genmedia.melody.refine import FlatDecoder, HierarchicalDecoder

    info = MelodyModel.load(tiny16s[1]).info
    init, step, conductor = (info.file(k) for k in ("decoder_init", "decoder_step", "conductor"))
    assert HierarchicalDecoder.read(conductor, init, step, bars=4).out_tanh is False  # trained in stages: linear
    with pytest.raises(ValueError, match="not a decoder genmedia can refine"):
        HierarchicalDecoder.read(step, init, step, bars=4)  # a bar decoder is no conductor
    with pytest.raises(ValueError, match="not a decoder genmedia can refine"):
        FlatDecoder.read(init, info.file("encoder"))  # a bidirectional LSTM


def test_graph_weights_refuses_what_it_cannot_read():
    from genmedia.onnxfile import graph_weights

    with pytest.raises(ValueError, match="not float32"):
        graph_weights(b"\x3a\x04\x2a\x02\x10\x07")  # graph > initializer of data type 7 (int64)
    with pytest.raises(ValueError, match="does not fill"):
        graph_weights(b"\x3a\x06\x2a\x04\x08\x03\x10\x01")  # a float32 tensor of shape [3] with no data


# Starting a run from a trained model's exported weights (genmedia.training.melody_init).

@pytest.mark.parametrize("which", ["tiny", "tiny16", "tiny16s"])
def test_init_reads_back_every_exported_weight(which, request):
    from genmedia.training.melody_init import check_outputs, init_from, read_init
    from genmedia.training.melody_net import MelodyVAE

    trained, meta = request.getfixturevalue(which)
    weights, files, lineage = read_init(meta)
    torch.manual_seed(123)  # other fresh weights than the trained model started from
    model = MelodyVAE(trained.cfg)
    untouched = init_from(model, weights)
    assert untouched == (["bar_head.weight", "bar_head.bias"] if trained.cfg.staged else [])
    given = dict(trained.named_parameters())
    for name, p in model.named_parameters():
        if name not in untouched:
            assert torch.equal(p, given[name]), name
    assert check_outputs(model, files) < 1e-5
    assert lineage["model"] == meta.stem and set(lineage["files"]) == set(files)


def test_init_refuses_weights_that_do_not_fit(tiny16, tiny16s):
    from dataclasses import replace

    from genmedia.training.melody_init import WeightsMismatch, check_outputs, init_from, read_init
    from genmedia.training.melody_net import MelodyVAE

    model16, meta16 = tiny16
    weights, files, _ = read_init(meta16)
    with pytest.raises(WeightsMismatch, match="encoder"):
        init_from(MelodyVAE(replace(model16.cfg, enc_hidden=model16.cfg.enc_hidden + 2)), weights)
    with pytest.raises(WeightsMismatch, match="graphs"):  # a flat model has no conductor
        init_from(MelodyVAE(replace(model16.cfg, conductor_hidden=0, enc_bar_hidden=0)), weights)
    staged, staged_meta = tiny16s
    staged_weights, _, _ = read_init(staged_meta)
    with pytest.raises(WeightsMismatch):  # the pool's weights have no place in tiny16
        init_from(MelodyVAE(model16.cfg), staged_weights)
    other = MelodyVAE(model16.cfg)  # fresh weights: the right shapes, other outputs
    with pytest.raises(WeightsMismatch, match="differs from the trained files"):
        check_outputs(other, files)


def test_a_run_from_a_trained_model_trains_end_to_end_only_and_records_it(corpus, tiny16s, tmp_path):
    from dataclasses import replace

    from genmedia.training.runs import train_melody_model

    _, meta = tiny16s
    lines: list[str] = []
    path = train_melody_model([corpus], replace(staged_config(), train_steps=3), name="fine", out_dir=tmp_path,
                              command="test", init=meta, log=lines.append)
    assert not any(line.startswith("stage") for line in lines)  # stages 1 and 2 came with the trained model
    recorded = json.loads(path.read_text())["training"]
    assert recorded["init"]["model"] == "tiny-melody-16s" and recorded["init"]["training"]["command"] == "test"
    assert set(recorded["stages"]) == {"end_to_end"} and recorded["stages"]["end_to_end"]["steps"] == 3


def test_train_melody_init_that_does_not_fit_is_one_line_naming_it(corpus, tiny16, tmp_path):
    _, meta = tiny16
    result = CliRunner().invoke(cli, ["train", "melody", "--data", str(corpus), "--preset", "tiny", "--init", str(meta),
                                      "--out", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and str(meta) in lines[0] and "Traceback" not in result.output, result.output
    assert not list(tmp_path.iterdir())
