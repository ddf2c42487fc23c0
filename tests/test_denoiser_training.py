"""Denoiser training (tiny runs on images the test draws), ONNX export with dynamic size, parity with torch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from genmedia.cli import cli

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytestmark = pytest.mark.torch


def image_folders(root: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    gray, color = root / "gray", root / "color"
    gray.mkdir(parents=True)
    color.mkdir()
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (40, 48), dtype=np.uint8)).save(gray / f"g{i}.png")
    for i in range(18):  # crc32(name) % 10 puts c16.jpg in the held-out split
        Image.fromarray(rng.integers(0, 256, (36, 44, 3), dtype=np.uint8)).save(color / f"c{i}.jpg")
    return gray, color


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from genmedia.training.denoiser import DenoiserConfig, export, load_denoiser_data, train

    root = tmp_path_factory.mktemp("den")
    gray, color = image_folders(root)
    data = load_denoiser_data(gray, color, None)
    model = train(data, DenoiserConfig.preset("tiny"))
    meta = export(model, name="tiny-den", out_dir=root / "out", command="test", data={}, metrics={})
    return model, meta


@pytest.mark.parametrize("shape", [(1, 8, 8), (2, 24, 40), (3, 64, 36)])
def test_onnx_matches_torch_for_any_size(tiny, shape):
    from genmedia.image.denoise import Denoiser
    from genmedia.registry import load_info

    model, meta = tiny
    batch, h, w = shape
    rng = np.random.default_rng(h)
    x = rng.random((batch, 3, h, w), dtype=np.float32)
    sigma = rng.uniform(0, 0.2, (batch, 1)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x), torch.from_numpy(sigma)).numpy()
    got = Denoiser(load_info(meta)).net.run(image=x, sigma=sigma)["denoised"]
    assert got.shape == expected.shape == x.shape
    assert np.abs(got - expected).max() <= 1e-4


def test_tiled_run_time_pads_odd_sizes(tiny):
    from genmedia.image.denoise import Denoiser
    from genmedia.registry import load_info

    model, meta = tiny
    den = Denoiser(load_info(meta))
    img = np.random.default_rng(1).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    out = den.denoise(img, sigma=10, tile=16)
    assert out.shape == img.shape and out.dtype == np.uint8
    # The model sees each tile with its context; torch on the whole (padded) image agrees to one 8-bit step.
    m = model.cfg.multiple
    padded = np.pad(img.astype(np.float32) / 255, ((0, -37 % m), (0, -53 % m), (0, 0)), mode="symmetric")
    with torch.no_grad():
        whole = model(torch.from_numpy(padded.transpose(2, 0, 1)[None].copy()), torch.full((1, 1), 10 / 255))
    whole = np.rint(whole[0].numpy().transpose(1, 2, 0)[:37, :53].clip(0, 1) * 255)
    assert np.abs(whole - out).max() <= 1


def test_cli_trains_exports_and_records_the_command(tmp_path):
    gray, color = image_folders(tmp_path)
    out, ckpt = tmp_path / "models", tmp_path / "ckpt.pt"
    args = ["train", "denoiser", "--gray", str(gray), "--color", str(color), "--preset", "tiny", "--name", "d",
            "--out", str(out), "--checkpoint", str(ckpt)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "d.json").read_text())
    assert meta["task"] == "denoise" and meta["input"]["multiple"] == 4
    assert meta["training"]["command"] == (f"genmedia train denoiser --gray {gray} --color {color} --name d "
                                           f"--out {out} --preset tiny --checkpoint {ckpt}")
    shapes = {t["name"]: t["shape"] for t in meta["tensors"]["denoiser"]["inputs"]}
    assert shapes == {"image": ["batch", 3, "height", "width"], "sigma": ["batch", 1]}
    assert "valid_color_psnr_sigma25" in meta["metrics"] and ckpt.exists()


def test_training_is_reproducible(tmp_path):
    from genmedia.training.denoiser import DenoiserConfig, load_denoiser_data, train

    data = load_denoiser_data(*image_folders(tmp_path), None)
    a, b = (train(data, DenoiserConfig.preset("tiny")) for _ in range(2))
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(pa, pb)


def test_batches_hold_gray_and_color_with_the_right_noise(tmp_path):
    from genmedia.training.denoiser import DenoiserConfig, load_denoiser_data, make_batch

    data = load_denoiser_data(*image_folders(tmp_path), None)
    cfg = DenoiserConfig(batch=64, patch=16, quantised=0.0, gray=0.5)
    clean, noisy, sigma = make_batch(data, cfg, np.random.default_rng(0))
    assert clean.shape == noisy.shape == (64, 3, 16, 16) and sigma.shape == (64, 1)
    gray = (clean[:, 0] == clean[:, 1]).all(dim=(1, 2)) & (clean[:, 1] == clean[:, 2]).all(dim=(1, 2))
    assert 16 < int(gray.sum()) < 48
    noise = noisy - clean
    assert torch.equal(noise[gray][:, 0], noise[gray][:, 2])  # one noise field for a gray image
    assert not torch.equal(noise[~gray][:, 0], noise[~gray][:, 2])
    ratio = noise.std(dim=(1, 2, 3)) / sigma[:, 0]
    assert 0.8 < float(ratio[sigma[:, 0] > 0.05].mean()) < 1.2


def test_camera_patches_take_the_rms_of_their_degradation_as_level_when_asked(tmp_path):
    from genmedia.training.denoiser import DenoiserConfig, load_denoiser_data, make_batch

    data = load_denoiser_data(*image_folders(tmp_path), None)
    levels = {}
    for rule in ("estimate", "rms"):
        cfg = DenoiserConfig(batch=24, patch=32, camera=1.0, camera_level=rule)
        clean, noisy, sigma = make_batch(data, cfg, np.random.default_rng(5))
        rms = (noisy - clean).pow(2).mean(dim=(1, 2, 3)).sqrt()
        levels[rule] = (sigma[:, 0], rms)
    sigma, rms = levels["rms"]
    assert torch.allclose(sigma, rms, rtol=1e-4, atol=1e-6) and float(rms.mean()) > 1 / 255
    estimate, same_rms = levels["estimate"]
    assert torch.equal(rms, same_rms)  # the same draws; only the level differs
    assert not torch.allclose(estimate, rms, rtol=0.1)


def test_cli_sizes_the_network_and_records_it_replayably(tmp_path):
    gray, color = image_folders(tmp_path)
    out = tmp_path / "models"
    args = ["train", "denoiser", "--gray", str(gray), "--color", str(color), "--preset", "tiny", "--name", "d",
            "--out", str(out), "--widths", "6,12,24", "--batch", "3"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "d.json").read_text())
    assert meta["training"]["config"]["widths"] == [6, 12, 24] and meta["training"]["config"]["batch"] == 3
    assert meta["input"]["multiple"] == 2 * 2**2  # fold 2, two halvings
    assert meta["training"]["command"].endswith("--batch 3 --widths 6,12,24")
    bad = CliRunner().invoke(cli, [*args[:-4], "--widths", "6,x"])
    assert bad.exit_code == 2 and "'6,x' is not a comma-separated list of channel counts" in bad.output


def test_init_widens_a_trained_denoiser_without_changing_what_it_computes(tiny):
    from genmedia.training.denoiser import DenoiserConfig, UNetDenoiser, read_weights, widen_from

    model, meta = tiny
    onnx_file = Path(meta).parent / "tiny-den.denoiser.onnx"
    x, sigma = torch.rand(2, 3, 16, 24), torch.full((2, 1), 0.1)
    with torch.no_grad():
        expected = model(x, sigma)
    for source in (model.state_dict(), read_weights(onnx_file)):
        wide = UNetDenoiser(DenoiserConfig(widths=(8, 12), convs=1))  # the tiny preset is (4, 8)
        widen_from(wide, source)
        with torch.no_grad():
            assert torch.allclose(wide(x, sigma), expected, atol=1e-6)
        # The extra channels are live: their weights differ from zero and carry gradient.
        out = wide(x, sigma)
        torch.nn.functional.l1_loss(out, x).backward()
        assert wide.tail.weight.grad[:, 4:].abs().sum() > 0 and wide.head[0].weight[4:].abs().sum() > 0
    with pytest.raises(ValueError, match="do not fit"):
        widen_from(UNetDenoiser(DenoiserConfig(widths=(2, 8), convs=1)), model.state_dict())
    with pytest.raises(ValueError, match="same levels"):
        widen_from(UNetDenoiser(DenoiserConfig(widths=(4, 8, 16), convs=1)), model.state_dict())


def test_init_deepens_a_trained_denoiser_without_changing_what_it_computes(tiny):
    from genmedia.training.denoiser import DenoiserConfig, UNetDenoiser, WeightsMismatch, widen_from

    model, _ = tiny  # the tiny preset: widths (4, 8), one convolution a block
    x, sigma = torch.rand(2, 3, 16, 24), torch.full((2, 1), 0.1)
    with torch.no_grad():
        expected = model(x, sigma)
    deep = UNetDenoiser(DenoiserConfig(widths=(6, 8), convs=1, top_convs=3))
    assert len(deep.head) == 6 and len(deep.dec[0]) == 6 and len(deep.enc[0]) == 2
    widen_from(deep, model.state_dict())
    with torch.no_grad():
        assert torch.allclose(deep(x, sigma), expected, atol=1e-6)
    assert torch.equal(deep.head[4].weight[:, :, 1, 1], torch.eye(6)) and deep.head[4].weight.sum() == 6
    # The new convolutions learn: they carry gradient.
    torch.nn.functional.l1_loss(deep(x, sigma), x).backward()
    assert deep.head[2].weight.grad.abs().sum() > 0 and deep.dec[0][4].weight.grad.abs().sum() > 0
    # Weights with more convolutions than the network, or lacking one that cannot start as the identity.
    with pytest.raises(WeightsMismatch, match="same levels"):
        widen_from(UNetDenoiser(DenoiserConfig(widths=(4, 8), convs=1)), deep.state_dict())
    partial = {k: v for k, v in model.state_dict().items() if k != "tail.weight"}
    with pytest.raises(WeightsMismatch, match="same levels: they lack tail, which cannot start"):
        widen_from(UNetDenoiser(DenoiserConfig(widths=(4, 8), convs=1)), partial)


def test_cli_top_convs_deepens_from_init_and_is_recorded(tmp_path, tiny):
    _, meta = tiny
    gray, color = image_folders(tmp_path)
    start = Path(meta).parent / "tiny-den.denoiser.onnx"
    args = ["train", "denoiser", "--gray", str(gray), "--color", str(color), "--preset", "tiny", "--name", "d",
            "--out", str(tmp_path / "models"), "--top-convs", "2", "--init", str(start)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    recorded = json.loads((tmp_path / "models" / "d.json").read_text())["training"]
    assert recorded["config"]["top_convs"] == 2 and recorded["config"]["convs"] == 1
    assert recorded["command"].endswith(f"--top-convs 2 --init {start}")
    bad = CliRunner().invoke(cli, [*args[:-4], "--top-convs", "0"])
    assert bad.exit_code == 2 and "--top-convs" in bad.output


def test_cli_init_records_the_model_it_started_from(tmp_path, tiny):
    _, meta = tiny
    gray, color = image_folders(tmp_path)
    start = Path(meta).parent / "tiny-den.denoiser.onnx"
    out = tmp_path / "models"
    args = ["train", "denoiser", "--gray", str(gray), "--color", str(color), "--preset", "tiny", "--name", "d",
            "--out", str(out), "--widths", "6,8", "--lr", "0.0005", "--init", str(start)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    recorded = json.loads((out / "d.json").read_text())["training"]
    assert recorded["command"].endswith(f"--widths 6,8 --lr 0.0005 --init {start}")
    assert recorded["config"]["lr"] == 0.0005
    import hashlib
    assert recorded["init"]["sha256"] == hashlib.sha256(start.read_bytes()).hexdigest()
    assert recorded["init"]["training"] == json.loads(Path(meta).read_text())["training"]
    narrow = CliRunner().invoke(cli, [*args[:-6], "--overwrite", "--widths", "2,8", "--init", str(start)])
    assert narrow.exit_code == 1
    assert f"{start}: head.0.weight: initial weights (4, 13, 3, 3) do not fit" in narrow.output
    (tmp_path / "bad.onnx").write_text("not a model")
    bad = CliRunner().invoke(cli, [*args[:-6], "--overwrite", "--init", str(tmp_path / "bad.onnx")])
    assert bad.exit_code == 1 and "bad.onnx: not a denoiser's .onnx file or a training checkpoint" in bad.output


def test_bf16_training_runs_in_bfloat16_is_reproducible_and_keeps_float32_weights(tmp_path):
    from dataclasses import replace

    from genmedia.training.denoiser import DenoiserConfig, load_denoiser_data, train

    data = load_denoiser_data(*image_folders(tmp_path), None)
    fp32 = train(data, DenoiserConfig.preset("tiny"))
    bf16 = [train(data, replace(DenoiserConfig.preset("tiny"), precision="bf16")) for _ in range(2)]
    changed = False
    for name, weight in fp32.state_dict().items():
        assert torch.equal(bf16[0].state_dict()[name], bf16[1].state_dict()[name])  # reproducible
        assert bf16[0].state_dict()[name].dtype == torch.float32  # the weights stay float32
        changed |= not torch.equal(bf16[0].state_dict()[name], weight)
    assert changed  # the passes really ran in bfloat16: the same seeds gave other weights
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16"):
        train(data, replace(DenoiserConfig.preset("tiny"), precision="fp16"))


def test_cli_precision_is_recorded_and_the_export_is_float32(tmp_path):
    import onnx

    gray, color = image_folders(tmp_path)
    out = tmp_path / "models"
    args = ["train", "denoiser", "--gray", str(gray), "--color", str(color), "--preset", "tiny", "--name", "d",
            "--out", str(out), "--precision", "bf16"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    recorded = json.loads((out / "d.json").read_text())["training"]
    assert recorded["command"].endswith("--preset tiny --precision bf16") and recorded["config"]["precision"] == "bf16"
    graph = onnx.load(str(out / "d.denoiser.onnx")).graph
    assert {t.data_type for t in graph.initializer} == {onnx.TensorProto.FLOAT}
    bad = CliRunner().invoke(cli, [*args[:-1], "fp16"])
    assert bad.exit_code == 2 and "'fp16' is not one of 'fp32', 'bf16'" in bad.output
