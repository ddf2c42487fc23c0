"""Real-photo denoising: the camera pipeline, `image eval --pairs`, `--report`, and progress by pixels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from genmedia.cli import cli
from genmedia.image.denoise import GRAIN_COARSE, SHUFFLE_LEVEL, SHUFFLE_MIN_LEVEL, SHUFFLE_SHARE, Denoiser
from genmedia.image.evaluate import add_noise, match_pairs, psnr
from genmedia.training.degrade import CameraSettings, camera, camera_image, camera_patch, coarse_noise, jpeg_only

from test_image_cli import scene


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def denoiser() -> Denoiser:
    return Denoiser.load()


def flat(value: int, size: int = 64) -> np.ndarray:
    return np.full((size, size, 3), value, dtype=np.uint8)


def residual(settings: CameraSettings, value: int, seed: int = 0) -> np.ndarray:
    noisy, target = camera(flat(value), np.random.default_rng(seed), settings=settings, size=0)
    return noisy.astype(np.float32) - target.astype(np.float32)


RAW = CameraSettings(shot=(2e-3, 2e-3), read_spread=0.0, tone_curve=0.0, sharpen=0.0, jpeg=0.0, ccm_mix=(0.0, 0.0))


def test_camera_noise_depends_on_brightness_and_is_correlated_between_neighbours() -> None:
    dark, bright = residual(RAW, 40), residual(RAW, 200)
    # Shot noise grows with the signal in linear light, and the gamma curve compresses it in the
    # highlights: a white-noise model would give the same spread everywhere.
    assert abs(dark[8:-8, 8:-8].std() - bright[8:-8, 8:-8].std()) > 0.2 * bright[8:-8, 8:-8].std()
    # Demosaicing interpolates missing samples from neighbours, so neighbouring noise is correlated.
    green = bright[8:-8, 8:-8, 1]
    corr = np.corrcoef(green[:, :-1].ravel(), green[:, 1:].ravel())[0, 1]
    assert corr > 0.2, corr
    # White balance amplifies red and blue sensor noise more than green.
    assert bright[8:-8, 8:-8, 0].std() > bright[8:-8, 8:-8, 1].std()


def test_camera_pipeline_is_seeded_and_keeps_shape_dtype_and_gray() -> None:
    image = scene(80, 96)
    a = camera_image(image, seed=3)
    b = camera_image(image, seed=3)
    c = camera_image(image, seed=4)
    assert a[0].shape == a[1].shape == image.shape and a[0].dtype == np.uint8
    assert np.array_equal(a[0], b[0]) and not np.array_equal(a[0], c[0])
    noisy, target = camera_image(image, seed=3, gray=True)
    assert noisy.shape == target.shape == (80, 96, 1)
    patch_noisy, patch_target = camera_patch(scene(200, 200), 48, np.random.default_rng(0))
    assert patch_noisy.shape == patch_target.shape == (48, 48, 3)


def test_jpeg_only_leaves_block_artefacts_on_a_clean_picture() -> None:
    image = scene(96, 128)
    settings = CameraSettings(quality=(60, 60))
    noisy, target = jpeg_only(image, np.random.default_rng(0), sigma=0.0, settings=settings, size=0)
    assert np.array_equal(target, image)
    assert 25 < psnr(target, noisy) < 45  # lossy, but no noise was added


def test_pairs_are_matched_by_name_then_by_unique_stem(tmp_path: Path) -> None:
    noisy = [tmp_path / "n" / name for name in ("a.jpg", "b.jpg", "c.jpg")]
    clean = [tmp_path / "c" / name for name in ("a.jpg", "b.png", "x.png")]
    pairs, unmatched = match_pairs(noisy, clean)
    assert pairs == [(noisy[0], clean[0]), (noisy[1], clean[1])] and unmatched == [noisy[2]]


def test_eval_pairs_scores_real_pairs_without_adding_noise(tmp_path: Path) -> None:
    (tmp_path / "noisy").mkdir()
    (tmp_path / "clean").mkdir()
    clean = scene(96, 128)
    Image.fromarray(clean).save(tmp_path / "clean" / "one.png")
    Image.fromarray(add_noise(clean, 20, seed=1, quantise=True)).save(tmp_path / "noisy" / "one.png")
    Image.fromarray(clean).save(tmp_path / "clean" / "two.png")
    Image.fromarray(clean).save(tmp_path / "noisy" / "two.png")  # a clean "noisy" image: input PSNR inf
    Image.fromarray(clean).save(tmp_path / "noisy" / "lonely.png")
    result = CliRunner().invoke(cli, ["image", "eval", "--pairs", str(tmp_path / "noisy"), str(tmp_path / "clean"),
                                      "--json"])
    assert result.exit_code == 0, result.output
    assert "lonely.png: no clean image of that name" in result.stderr
    report = json.loads(result.stdout)
    assert [s["image"] for s in report["images"]] == ["one.png", "two.png"]
    one = report["images"][0]
    assert one["psnr"] > one["noisy_psnr"] + 3 and one["ssim"] > one["noisy_ssim"]
    assert report["mean"]["images"] == 2 and report["blind"] is True


def test_eval_needs_a_folder_or_pairs(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["image", "eval"])
    assert result.exit_code == 2 and "give either CLEAN_DIR or --pairs" in result.output


def smooth(height: int = 96, width: int = 128) -> np.ndarray:
    """A clean, gently shaded picture with nothing for the denoiser to change."""
    y, x = np.mgrid[:height, :width].astype(np.float32)
    img = np.stack([100 + 0.5 * x, 120 + 0.3 * y, 90 + 0.2 * (x + y)], axis=-1)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def test_report_says_what_was_estimated_and_done_and_which_images_were_clean(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    clean = smooth()
    Image.fromarray(clean).save(tmp_path / "in" / "clean.png")
    Image.fromarray(add_noise(clean, 25, seed=2, quantise=True)).save(tmp_path / "in" / "noisy.png")
    (tmp_path / "in" / "broken.png").write_bytes(b"not a png")
    report = tmp_path / "report.json"
    result = run("image", "denoise", tmp_path / "in", "-o", tmp_path / "out", "--report", report)
    assert result.exit_code == 1
    entries = {Path(e["input"]).name: e for e in json.loads(report.read_text())["files"]}
    assert entries["broken.png"]["status"] == "failed" and entries["broken.png"]["why"]
    assert entries["clean.png"]["already_clean"] is True
    noisy = entries["noisy.png"]
    assert noisy["already_clean"] is False and noisy["rms_change"] > 10 and 20 < noisy["noise_level"] < 30
    assert noisy["noise_level_from"] == "estimated"
    assert "clean.png: already clean" in result.stderr
    assert "done 2 (1 already clean), skipped 0, failed 1; " in result.stderr
    again = run("image", "denoise", tmp_path / "in", "-o", tmp_path / "out2", "--report", report)
    assert again.exit_code == 1 and "already exists" in again.stderr  # the report is an output like any other


def test_progress_moves_with_pixels_within_one_image(denoiser: Denoiser) -> None:
    image = scene(200, 150)
    calls: list[int] = []
    denoiser.denoise(image, sigma=10, tile=64, progress=calls.append)
    assert len(calls) == 4 * 3 and sum(calls) == 200 * 150


def test_rms_change_sums_blocks_of_rows_as_one_image(monkeypatch):
    import genmedia.image.batch as batch

    rng = np.random.default_rng(3)
    before = rng.integers(0, 256, (37, 11, 3)).astype(np.uint8)
    after = rng.integers(0, 256, before.shape).astype(np.uint8)
    whole = float(np.sqrt(np.mean((before.astype(np.float64) - after) ** 2)))
    monkeypatch.setattr(batch, "RMS_BLOCK", 50)  # one row (33 values) per block, 37 blocks
    assert abs(batch.rms_change(before, after) - whole) < 1e-9
    wide = before.astype(np.uint16) * 257, after.astype(np.uint16) * 257  # on the 0-255 scale whatever the dtype
    assert abs(batch.rms_change(*wide) - whole) < 1e-9


def coarse_camera_noise(clean: np.ndarray, rms: float, seed: int = 0) -> np.ndarray:
    """`clean` with noise as real photos have it: blurred (no finest grain left) and per channel."""
    rng = np.random.default_rng(seed)
    noise = np.stack([coarse_noise(rng.standard_normal(clean.shape[:2]).astype(np.float32), 1.5)
                      for _ in range(clean.shape[2])], axis=2)
    return np.clip(np.rint(clean + rms * noise), 0, 255).astype(np.uint8)


def test_second_look_reads_coarse_noise_that_the_patch_estimate_misses(denoiser: Denoiser) -> None:
    clean = scene(160, 192, seed=4)
    noisy = coarse_camera_noise(clean, 5.0)
    reading = denoiser.read_noise(noisy)
    assert reading.patch < 2.0  # white-noise statistics see almost nothing
    assert reading.second_look is not None and reading.level == reading.second_look > reading.patch + 2
    assert reading.method == "second look" and denoiser.estimate(noisy) == reading.level
    assert reading.grain is not None and reading.grain > GRAIN_COARSE and reading.coarse  # blurred: coarse grain
    for value in (255, 0, 128):  # blown-out, crushed or flat-painted areas carry no noise to read
        band = noisy.copy()
        band[:40] = value
        assert abs(denoiser.read_noise(band).level - reading.level) < 0.2 * reading.level


def test_coarse_grain_takes_the_pixel_shuffle_pass_and_fine_grain_does_not(denoiser: Denoiser) -> None:
    clean = scene(160, 192, seed=4)
    noisy = coarse_camera_noise(clean, 5.0)
    reading = denoiser.read_noise(noisy)
    assert reading.coarse
    direct = denoiser.denoise(noisy, sigma=reading.level)
    values = noisy.astype(np.float32) / 255  # the passes unrounded: float in, float out
    shuffled = np.empty_like(values)
    for dy in (0, 1):
        for dx in (0, 1):
            part = np.ascontiguousarray(values[dy::2, dx::2])
            shuffled[dy::2, dx::2] = denoiser.denoise(part, sigma=reading.level * SHUFFLE_LEVEL)
    mixed = (1 - SHUFFLE_SHARE) * denoiser.denoise(values, sigma=reading.level) + SHUFFLE_SHARE * shuffled
    blind = denoiser.denoise(noisy)
    assert not np.array_equal(blind, direct)
    off = np.abs(blind.astype(np.float32) - mixed * 255)
    assert off.max() < 0.6 and off.mean() < 0.3  # rounded once (the shuffle pass kept as float16: +-0.03)
    assert psnr(clean, blind) > psnr(clean, direct) > psnr(clean, noisy)
    floats = denoiser.denoise(noisy.astype(np.float32) / 255)  # float input: same passes, unrounded
    assert floats.dtype == np.float32 and np.abs(floats * 255 - blind).max() < 1.0
    assert np.array_equal(denoiser.denoise(noisy, reading=reading), blind)  # a reading given is used as read
    odd = coarse_camera_noise(scene(161, 193, seed=4), 5.0)  # odd sizes: sub-images of unequal sizes
    assert denoiser.read_noise(odd).coarse
    calls: list[int] = []
    tiled = denoiser.denoise(odd, tile=48, progress=calls.append)  # two passes, each counted as half
    assert sum(calls) == 161 * 193
    assert tiled.shape == odd.shape and np.array_equal(tiled, denoiser.denoise(odd))  # tiles meet exactly
    with pytest.raises(ValueError, match="not both"):
        denoiser.denoise(noisy, sigma=3.0, reading=reading)
    rng = np.random.default_rng(0)  # fine grain that the patch estimate half reads: second look, no shuffle
    fine = np.clip(np.rint(clean + 1.5 * rng.standard_normal(clean.shape)), 0, 255).astype(np.uint8)
    fine_reading = denoiser.read_noise(fine)
    assert fine_reading.method == "second look" and fine_reading.grain is not None
    assert fine_reading.grain < GRAIN_COARSE and not fine_reading.coarse
    assert np.array_equal(denoiser.denoise(fine), denoiser.denoise(fine, sigma=fine_reading.level))
    given = denoiser.denoise(noisy, sigma=reading.level)  # a given level is one direct pass
    assert np.array_equal(given, direct)


def test_second_look_is_not_taken_for_white_noise_and_stays_low_on_clean_pictures(denoiser: Denoiser) -> None:
    noisy = add_noise(scene(seed=5), 25, seed=1, quantise=True)
    reading = denoiser.read_noise(noisy)
    assert reading.second_look is None and reading.level == reading.patch and 20 < reading.level < 30
    assert reading.method == "patch statistics"
    strong = add_noise(scene(seed=5), 70, seed=1, quantise=False)
    assert denoiser.read_noise(strong).level > 60  # the estimate is not cut to the model's range (55)
    clean = denoiser.read_noise(smooth())
    assert clean.second_look is not None and clean.level < 3.0
    # its own shading correlates, but under SHUFFLE_MIN_LEVEL there is no pixel-shuffle pass
    assert clean.grain is not None and clean.grain > GRAIN_COARSE and clean.level < SHUFFLE_MIN_LEVEL
    assert not clean.coarse
    assert np.array_equal(denoiser.denoise(smooth()), denoiser.denoise(smooth(), sigma=clean.level))
    assert denoiser.read_noise(smooth(1, 1)).second_look is None  # too small to read: the patch estimate stands
    gray = coarse_camera_noise(scene(160, 192, seed=4)[..., :1], 5.0)
    assert denoiser.read_noise(gray).second_look is None  # gray images take no second look
    as_color = gray.repeat(3, axis=2)  # nor do gray pictures saved as color
    assert denoiser.read_noise(as_color).second_look is None
    assert denoiser.read_noise(as_color).level == denoiser.read_noise(gray).level
    noisy = add_noise(scene(seed=5)[..., :1], 25, seed=1, quantise=True).repeat(3, axis=2)
    out = denoiser.denoise(noisy)  # comes back gray: it gains no color
    assert (out[..., :1] == out).all() and np.array_equal(out[..., :1], denoiser.denoise(noisy[..., :1]))


def test_report_says_when_the_second_look_set_the_level(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    Image.fromarray(coarse_camera_noise(scene(160, 192, seed=4), 5.0)).save(tmp_path / "in" / "camera.png")
    report = tmp_path / "report.json"
    result = run("image", "denoise", tmp_path / "in", "-o", tmp_path / "out", "--report", report)
    assert result.exit_code == 0, result.output
    entry = json.loads(report.read_text())["files"][0]
    estimate = entry["noise_estimate"]
    assert estimate["from"] == "second look" and estimate["patch"] < 2 < estimate["second_look"]
    assert entry["noise_level"] == estimate["second_look"]
    assert estimate["grain"] > 0.35 and estimate["pixel_shuffle_pass"] is True
    assert "coarse grain: pixel-shuffle pass" in result.stderr
    assert "(second look; patch estimate" in result.stderr
    given = run("image", "denoise", tmp_path / "in", "-o", tmp_path / "out2", "--report", tmp_path / "r2.json",
                "--noise-level", "3")
    assert "noise_estimate" not in json.loads((tmp_path / "r2.json").read_text())["files"][0]
    assert given.exit_code == 0
