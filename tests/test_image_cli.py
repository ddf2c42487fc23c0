"""`genmedia image denoise` and `image eval` as users run them, on the shipped denoiser."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from genmedia.cli import cli
from genmedia.image import batch
from genmedia.image.denoise import Denoiser
from genmedia.image.evaluate import add_noise, psnr, ssim
from genmedia.image.noise import estimate_sigma

from test_image_io import bad_files, photo_like


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def scene(height: int = 96, width: int = 128, seed: int = 0) -> np.ndarray:
    """A clean synthetic picture: smooth shading, hard edges and a few textures (uint8 RGB)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:height, :width].astype(np.float32)
    img = np.stack([90 + 60 * np.sin(x / 23), 120 + 50 * np.cos(y / 17), 100 + 0.5 * x], axis=-1)
    for _ in range(6):
        cy, cx, r = rng.integers(0, height), rng.integers(0, width), rng.integers(6, 24)
        img[(y - cy) ** 2 + (x - cx) ** 2 < r * r] = rng.integers(20, 235, 3)
    img[height // 2:, : width // 3] += 25 * np.sign(np.sin(x[height // 2:, : width // 3] / 2))[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def denoiser() -> Denoiser:
    return Denoiser.load()


def test_denoiser_removes_most_of_the_noise(denoiser: Denoiser) -> None:
    clean = scene()
    for sigma, least in ((15, 3.0), (25, 5.0), (50, 7.0)):  # the shipped model gains 7.6, 10.3 and 13.3 dB here
        noisy = add_noise(clean, sigma, seed=sigma, quantise=True)
        out = denoiser.denoise(noisy)
        assert out.dtype == np.uint8 and out.shape == clean.shape
        gain = psnr(clean, out) - psnr(clean, noisy)
        assert gain > least, (sigma, gain)
        assert ssim(clean, out) > ssim(clean, noisy) + 0.1


def test_gray_images_use_one_noise_field_and_stay_gray(denoiser: Denoiser) -> None:
    clean = scene()[..., :1]
    noisy = add_noise(clean, 25, seed=1, quantise=True)
    out = denoiser.denoise(noisy)
    assert out.shape == clean.shape
    assert psnr(clean, out) > psnr(clean, noisy) + 6.0


def test_tiles_meet_without_seams(denoiser: Denoiser) -> None:
    noisy = add_noise(scene(200, 300, seed=3), 25, seed=2, quantise=False)
    whole = denoiser.denoise(noisy, sigma=25, tile=1024)
    tiled = denoiser.denoise(noisy, sigma=25, tile=64)
    assert np.abs(whole - tiled).max() < 2e-3  # well under one 8-bit step anywhere, tile edges included


def test_noise_level_changes_the_strength(denoiser: Denoiser) -> None:
    noisy = add_noise(scene(), 25, seed=4, quantise=True)
    weak = denoiser.denoise(noisy, sigma=2)
    strong = denoiser.denoise(noisy, sigma=50)
    change = lambda out: np.abs(out.astype(float) - noisy).mean()  # noqa: E731
    assert change(weak) < change(strong)


def test_noise_estimate_is_close_on_a_smooth_image() -> None:
    clean = scene(256, 256)
    for sigma in (10, 25, 40):
        noisy = clean.astype(np.float32) + np.random.default_rng(sigma).normal(0, sigma, clean.shape)
        assert abs(estimate_sigma(noisy) - sigma) < 1.5, sigma


def make_inputs(root: Path) -> Path:
    src = root / "in"
    (src / "sub").mkdir(parents=True)
    Image.fromarray(add_noise(scene(), 20, seed=0, quantise=True)).save(src / "a.png")
    Image.fromarray(add_noise(scene(seed=1), 20, seed=1, quantise=True)[..., 0]).save(src / "gray.jpg", quality=92)
    rgba = Image.fromarray(add_noise(scene(seed=2), 20, seed=2, quantise=True)).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(rgba.size))
    rgba.save(src / "sub" / "c.webp", lossless=True)
    (src / "notes.txt").write_text("not an image, and not named like one: ignored")
    return src


def test_folder_is_mirrored_with_formats_and_modes_kept(tmp_path: Path) -> None:
    src = make_inputs(tmp_path)
    before = digest(src)
    result = run("image", "denoise", src, "-o", tmp_path / "out", "--recursive")
    assert result.exit_code == 0, result.output
    assert sorted(digest(tmp_path / "out")) == ["a.png", "gray.jpg", "sub/c.webp"]
    for name, mode, fmt in (("a.png", "RGB", "PNG"), ("gray.jpg", "L", "JPEG"), ("sub/c.webp", "RGBA", "WEBP")):
        with Image.open(tmp_path / "out" / name) as out, Image.open(src / name) as inp:
            assert (out.mode, out.format, out.size) == (mode, fmt, inp.size) == (inp.mode, inp.format, inp.size)
            if mode == "RGBA":
                assert np.array_equal(np.asarray(out)[..., 3], np.asarray(inp)[..., 3])
    assert "done 3, skipped 0, failed 0" in result.stderr
    assert "denoising" not in result.stderr  # no progress bar when not on a terminal
    assert digest(src) == before  # inputs untouched


def test_sixteen_bit_color_tiff_is_denoised_at_sixteen_bits(tmp_path: Path) -> None:
    from genmedia.image.io import read_photo
    from genmedia.image.tiff16 import write_tiff16

    clean = scene().astype(np.float64) * 257
    noisy = np.clip(clean + np.random.default_rng(1).normal(0, 20 * 257, clean.shape), 0, 65535).astype(np.uint16)
    (tmp_path / "in").mkdir()
    write_tiff16(tmp_path / "in" / "scan.tif", noisy, None,
                 {"compression": "tiff_adobe_deflate", "tiffinfo": {271: "genmedia test scanner"}, "dpi": (600, 600)})
    result = run("image", "denoise", tmp_path / "in", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    out = read_photo(tmp_path / "out" / "scan.tif")
    assert out.mode == "RGB;16" and out.pixels.dtype == np.uint16
    assert out.info["tiffinfo"] == {271: "genmedia test scanner"} and out.info["compression"] == "tiff_adobe_deflate"
    assert (out.pixels % 257 != 0).mean() > 0.5  # the low byte is the model's, not a copy of the high byte
    def rmse(x: np.ndarray) -> float:
        return float(np.sqrt(np.mean((x.astype(np.float64) - clean) ** 2)))

    assert rmse(out.pixels) < 0.6 * rmse(noisy)


def test_without_recursive_sub_folders_are_left_out(tmp_path: Path) -> None:
    src = make_inputs(tmp_path)
    assert run("image", "denoise", src, "-o", tmp_path / "out").exit_code == 0
    assert sorted(digest(tmp_path / "out")) == ["a.png", "gray.jpg"]


def test_bad_files_are_named_and_the_rest_completes(tmp_path: Path) -> None:
    src = make_inputs(tmp_path)
    bad = bad_files(src)
    (src / "huge.png").write_bytes(__import__("test_image_io").png_header_only(20000, 20000))
    before = digest(src)
    result = run("image", "denoise", src, "-o", tmp_path / "out", "--max-pixels", "100000000")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    for path, why in bad.values():
        if path.suffix != ".gif":  # folders only yield supported suffixes; a .gif is refused when named
            assert any(str(path) in line and why in line for line in lines), (path, why)
    assert any("huge.png" in line and "over the limit" in line for line in lines)
    assert "done 2, skipped 0, failed 4" in result.stderr
    assert lines[-1].startswith("failed: ") and "trunc.jpg" in lines[-1]
    assert sorted(digest(tmp_path / "out")) == ["a.png", "gray.jpg"]  # no partial or temporary files
    assert digest(src) == before
    assert "Traceback" not in result.output


def test_unsupported_format_named_on_the_command_line(tmp_path: Path) -> None:
    bad = bad_files(tmp_path)
    path, why = bad["unsupported"]
    result = run("image", "denoise", path, "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert f"{path}: {why}" in result.stderr


def test_unreadable_folder_is_reported_and_the_rest_completes(tmp_path: Path, monkeypatch) -> None:
    src = make_inputs(tmp_path)
    locked = src / "locked"
    locked.mkdir()
    real = os.scandir

    def scandir(path):  # shutil.rmtree also calls os.scandir, with a file descriptor
        if isinstance(path, (str, os.PathLike)) and Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(batch.os, "scandir", scandir)  # root reads any folder, so refuse this one here
    result = run("image", "denoise", src, "-o", tmp_path / "out", "-r")
    assert result.exit_code == 1
    assert f"error: {locked}: cannot read folder: Permission denied" in result.stderr
    assert sorted(digest(tmp_path / "out")) == ["a.png", "gray.jpg", "sub/c.webp"]


def test_an_output_folder_inside_the_input_is_not_read_back(tmp_path: Path) -> None:
    src = make_inputs(tmp_path)
    for _ in range(2):  # the second run must not find the first run's results as new inputs
        result = run("image", "denoise", src, "-o", src / "clean", "-r", "--skip-existing")
        assert result.exit_code == 0, result.output
    assert sorted(digest(src / "clean")) == ["a.png", "gray.jpg", "sub/c.webp"]
    assert "done 0, skipped 3, failed 0" in result.stderr


def test_existing_outputs_need_overwrite_or_skip(tmp_path: Path) -> None:
    src = make_inputs(tmp_path)
    out = tmp_path / "out"
    assert run("image", "denoise", src / "a.png", "-o", out).exit_code == 0
    (out / "a.png").write_bytes(b"mine")
    again = run("image", "denoise", src / "a.png", "-o", out)
    assert again.exit_code == 1 and "already exists" in again.stderr
    assert (out / "a.png").read_bytes() == b"mine"
    skipped = run("image", "denoise", src / "a.png", "-o", out, "--skip-existing")
    assert skipped.exit_code == 0 and "skipped 1" in skipped.stderr
    assert (out / "a.png").read_bytes() == b"mine"
    assert run("image", "denoise", src / "a.png", "-o", out, "--overwrite").exit_code == 0
    with Image.open(out / "a.png") as im:
        assert im.size == (128, 96)
    both = run("image", "denoise", src / "a.png", "-o", out, "--overwrite", "--skip-existing")
    assert both.exit_code == 2


def test_output_may_not_replace_an_input(tmp_path: Path) -> None:
    src = make_inputs(tmp_path)
    before = digest(src)
    result = run("image", "denoise", src / "a.png", "-o", src, "--overwrite")
    assert result.exit_code == 1 and "would replace the input" in result.stderr
    assert digest(src) == before


def test_globs_jobs_and_fixed_noise_level_are_deterministic(tmp_path: Path) -> None:
    src = make_inputs(tmp_path)
    a = run("image", "denoise", str(src / "*.png"), str(src / "**" / "*.webp"), "-o", tmp_path / "a", "-j", "2",
            "--noise-level", "20", "--tile", "64")
    b = run("image", "denoise", str(src / "*.png"), str(src / "**" / "*.webp"), "-o", tmp_path / "b",
            "--noise-level", "20", "--tile", "64")
    assert a.exit_code == b.exit_code == 0, a.output
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert sorted(digest(tmp_path / "a")) == ["a.png", "sub/c.webp"]
    assert run("image", "denoise", src / "a.png", "-o", tmp_path / "c", "--noise-level", "abc").exit_code == 2


def test_quiet_prints_only_errors(tmp_path: Path) -> None:
    src = make_inputs(tmp_path)
    result = run("image", "denoise", src / "a.png", "-o", tmp_path / "out", "-q")
    assert result.exit_code == 0 and result.stderr == ""


def test_eval_reports_psnr_and_ssim_per_image_and_mean(tmp_path: Path, monkeypatch) -> None:
    clean = tmp_path / "clean"
    clean.mkdir()
    Image.fromarray(scene()).save(clean / "x.png")
    Image.fromarray(scene(seed=5)[..., 0]).save(clean / "y.png")
    result = run("image", "eval", clean, "--sigma", "15,50", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["blind"] is True and sorted(report["mean"]) == ["15", "50"]
    assert len(report["images"]) == 4
    for row in report["images"]:
        assert row["psnr"] > row["noisy_psnr"] + 3 and 0 < row["ssim"] <= 1
        assert abs(row["estimated_sigma"] - row["sigma"]) < 0.25 * row["sigma"] + 2
    assert run("image", "eval", clean, "--sigma", "15,50", "--json").stdout == result.stdout  # seeded noise
    monkeypatch.chdir(clean)  # the folder being evaluated may be the current one
    assert json.loads(run("image", "eval", ".", "--sigma", "15,50", "--json").stdout)["images"] == report["images"]
    text = run("image", "eval", clean, "--sigma", "25", "--quantised")
    assert "8-bit clipped" in text.stdout and "PSNR" in text.stdout


def test_psnr_and_ssim_reference_values() -> None:
    a = photo_like((64, 64, 1))
    assert ssim(a, a) == pytest.approx(1.0)
    b = a.astype(float) + 5.0
    assert psnr(a, b) == pytest.approx(10 * np.log10(255**2 / 25))
    assert ssim(a, np.full_like(a, a.mean())) < 0.2


def run_with_terminal_stderr(args: list, timeout: float = 120) -> tuple[int | None, str]:
    """Run `python -m genmedia ARGS` with stderr on a pseudo-terminal (so the progress bar is on);
    return its exit code (None if it had to be killed after `timeout` seconds) and its stderr."""
    import pty
    import subprocess
    import sys
    import threading

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "genmedia", *map(str, args)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=slave, close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO once the child has closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        code = None
    reader.join(5)
    os.close(master)
    return code, b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_named_like_an_image_does_not_hang_the_progress_bar(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(add_noise(scene(48, 64), 20, seed=0, quantise=True)).save(src / "a.png")
    os.mkfifo(src / "x.png")  # nothing ever writes to it: opening it for reading would block for good
    code, stderr = run_with_terminal_stderr(["image", "denoise", src, "-o", tmp_path / "out"], timeout=60)
    assert code == 1, stderr
    assert "denoising" in stderr  # the progress bar was on
    assert f"{src / 'x.png'}: is a FIFO (named pipe), not a regular file" in stderr
    assert "done 1, skipped 0, failed 1" in stderr
    assert stderr.strip().splitlines()[-1] == f"failed: {src / 'x.png'}"
    assert sorted(digest(tmp_path / "out")) == ["a.png"]


def test_eval_pairs_json_is_strict_and_a_mismatched_pair_is_named_and_skipped(tmp_path: Path) -> None:
    noisy, clean = tmp_path / "noisy", tmp_path / "clean"
    noisy.mkdir()
    clean.mkdir()
    picture = scene(48, 64)
    Image.fromarray(picture).save(clean / "same.png")
    Image.fromarray(picture).save(noisy / "same.png")  # identical: PSNR is infinite
    Image.fromarray(picture).save(clean / "small.png")
    Image.fromarray(scene(40, 40)).save(noisy / "small.png")  # another size: this pair cannot be scored
    Image.fromarray(picture).save(clean / "real.png")
    Image.fromarray(add_noise(picture, 20, seed=3, quantise=True)).save(noisy / "real.png")
    result = run("image", "eval", "--pairs", noisy, clean, "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    assert [s["image"] for s in report["images"]] == ["real.png", "same.png"]
    same = report["images"][1]
    assert same["noisy_psnr"] is None and same["noisy_ssim"] == pytest.approx(1.0)
    assert report["mean"]["noisy_psnr"] is None and report["mean"]["psnr"] is not None
    assert report["failed"] == [{"noisy": str(noisy / "small.png"), "clean": str(clean / "small.png"),
                                 "why": f"sizes differ: {noisy / 'small.png'} is 40x40 color, "
                                        f"{clean / 'small.png'} is 64x48 color"}]
    assert result.stderr.splitlines() == [  # the pair named by both its files, then the batch's summary line
        f"error: pair {noisy / 'small.png'} and {clean / 'small.png'}: sizes differ: {noisy / 'small.png'} is "
        f"40x40 color, {clean / 'small.png'} is 64x48 color",
        f"failed: {noisy / 'small.png'}"]
    text = run("image", "eval", "--pairs", noisy, clean)
    assert text.exit_code == 1 and "on 2 pairs" in text.stdout and "PSNR inf" in text.stdout


@pytest.mark.parametrize("option", [["--sigma", "25"], ["--quantised"], ["--seed", "3"]])
def test_eval_pairs_refuses_the_options_that_add_noise(tmp_path: Path, option: list[str]) -> None:
    (tmp_path / "n").mkdir()
    (tmp_path / "c").mkdir()
    result = run("image", "eval", "--pairs", tmp_path / "n", tmp_path / "c", *option)
    assert result.exit_code == 2 and f"{option[0]}: --pairs" in result.stderr


def test_nothing_but_ray_batches_imports_ray(tmp_path: Path) -> None:
    import subprocess
    import sys

    src = make_inputs(tmp_path)
    code = ("import sys, genmedia, genmedia.cli\n"
            "assert 'ray' not in sys.modules, 'import genmedia'\n"
            "from genmedia.cli import cli\n"
            f"cli(['image', 'denoise', {str(src / 'a.png')!r}, '-o', {str(tmp_path / 'out')!r}, '-q'],"
            " standalone_mode=False)\n"
            "print('ray' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_ray_without_ray_installed_names_the_extra(tmp_path: Path, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed: find_spec gives None, import fails
    src = make_inputs(tmp_path)
    result = run("image", "denoise", src / "a.png", "-o", tmp_path / "out", "--ray")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "pip install 'genmedia[ray]'" in result.stderr
    assert not (tmp_path / "out").exists()


def test_ray_takes_an_address_not_an_input(tmp_path: Path) -> None:
    src = make_inputs(tmp_path)
    result = run("image", "denoise", "--ray", src, "-o", tmp_path / "out")
    assert result.exit_code == 2 and "is not a Ray address" in result.stderr and "after the inputs" in result.stderr


def test_a_folder_with_sub_folders_says_they_are_not_searched(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    (photos / "trip").mkdir(parents=True)
    (photos / ".thumbs").mkdir()  # hidden: not counted
    Image.fromarray(scene(32, 32)).save(photos / "a.png")
    Image.fromarray(scene(32, 32, seed=1)).save(photos / "trip" / "b.png")
    result = run("image", "denoise", photos, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == (f"note: {photos} has 1 sub-folder, not searched "
                                             "(--recursive searches them too)")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png"]
    result = run("image", "denoise", photos, "-o", tmp_path / "all", "-r")
    assert result.exit_code == 0 and "note:" not in result.stderr
    assert (tmp_path / "all" / "trip" / "b.png").exists()
