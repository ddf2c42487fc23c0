"""The library API from the top of the package (`genmedia.sample_levels`, ...), on the shipped models."""

from __future__ import annotations

import ast
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import genmedia
from genmedia import api
from genmedia.melody import concepts as concepts_mod
from genmedia.registry import get_model
from genmedia.resources import resource_dir

from conftest import python

ROOT = Path(__file__).resolve().parent.parent
ASSETS = resource_dir("assets")
LEVELS = [ASSETS / "levels" / f"example-{x}.txt" for x in "ab"]
MELODIES = [ASSETS / "melodies" / f"example-{x}.mid" for x in "ab"]


# --- the package ------------------------------------------------------------------------------------------

def test_importing_genmedia_loads_no_numerics_runtime_or_frameworks():
    loaded = python("import sys, genmedia; "
                    "print([m for m in ('numpy', 'onnxruntime', 'torch', 'ray', 'PIL') if m in sys.modules])")
    assert loaded == "[]"


def test_the_api_runs_without_torch_or_ray():
    code = ("import sys, numpy as np, genmedia\n"
            "genmedia.sample_levels(count=1, width=32, seed=0); genmedia.sample_melodies(count=1, seed=0)\n"
            "genmedia.denoise(np.zeros((32, 32), np.uint8))\n"
            "print('torch' in sys.modules, 'ray' in sys.modules, 'onnxruntime' in sys.modules)")
    assert python(code).splitlines()[-1] == "False False True"


def test_every_export_resolves_and_type_checkers_see_it():
    for name in genmedia.__all__:
        assert getattr(genmedia, name) is not None
        assert name in dir(genmedia)
    tree = ast.parse((ROOT / "genmedia" / "__init__.py").read_text())
    guarded = {alias.name for node in ast.walk(tree) if isinstance(node, ast.If)
               for stmt in node.body if isinstance(stmt, ast.ImportFrom) for alias in stmt.names}
    assert guarded == set(genmedia._EXPORTS)  # the TYPE_CHECKING imports list exactly the lazy names
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        genmedia.nothing_here  # noqa: B018
    assert python("from genmedia import limits; print(limits.__name__)") == "genmedia.limits"


def test_the_package_is_typed():
    assert (Path(genmedia.__file__).parent / "py.typed").is_file()
    assert '"genmedia" = ["py.typed"]' in (ROOT / "pyproject.toml").read_text()


def test_the_api_reference_builds(tmp_path):
    pytest.importorskip("pdoc")
    subprocess.run([sys.executable, str(ROOT / "docs" / "build.py"), str(tmp_path)], check=True, capture_output=True)
    top = (tmp_path / "genmedia.html").read_text()
    for name in ("sample_levels", "morph_levels", "sample_melodies", "morph_melodies", "denoise", "LevelModel"):
        assert name in top
    assert (tmp_path / "genmedia" / "api.html").is_file()
    assert not (tmp_path / "genmedia" / "training").exists()


# --- models ---------------------------------------------------------------------------------------------

def test_a_model_by_name_path_object_or_default_gives_the_same_levels():
    path = get_model(None, task="level").metadata_path
    loaded = genmedia.LevelModel.load()
    results = [genmedia.sample_levels(count=1, width=32, seed=4, model=m)[0]
               for m in (None, "smb-level-vae", path, str(path), loaded)]
    for level in results[1:]:
        np.testing.assert_array_equal(level, results[0])


def test_default_models_are_loaded_once():
    assert api._model(genmedia.LevelModel, None) is api._model(genmedia.LevelModel, None)
    assert api._model(genmedia.Denoiser, "denoise-unet") is api._model(genmedia.Denoiser, "denoise-unet")
    api.clear_model_cache()
    assert api._load.cache_info().currsize == 0


def test_a_model_of_the_wrong_kind_is_refused():
    with pytest.raises(TypeError, match="model must be"):
        genmedia.sample_levels(width=32, seed=0, model=3)
    with pytest.raises(genmedia.ModelError, match="no level model named 'denoise-unet'"):
        genmedia.sample_levels(width=32, seed=0, model="denoise-unet")
    with pytest.raises(genmedia.ModelError, match="not a level model"):
        genmedia.sample_levels(width=32, seed=0, model=get_model(None, task="denoise").metadata_path)


# --- levels ---------------------------------------------------------------------------------------------

def test_sample_levels_is_seeded_and_reproducible():
    levels = genmedia.sample_levels(count=2, width=32, seed=1)
    assert len(levels) == 2
    assert all(lv.shape == (14, 32) and lv.dtype == np.uint8 for lv in levels)
    again = genmedia.sample_levels(count=2, width=32, seed=1)
    for a, b in zip(levels, again):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(genmedia.sample_levels(count=1, width=32, seed=1)[0], levels[0])
    assert set(genmedia.level_to_text(levels[0])) <= set("XS-?QE<>[]oBb\n")


@pytest.mark.parametrize("options, error", [
    ({"count": 0}, ValueError), ({"width": 8}, ValueError), ({"temperature": float("nan")}, ValueError),
    ({"temperature": 4.0}, ValueError), ({"prior": "uniform"}, ValueError), ({"count": 2.0}, TypeError),
    ({"seed": -1}, ValueError),
])
def test_sample_levels_refuses_bad_options(options, error):
    with pytest.raises(error):
        genmedia.sample_levels(**{"width": 32, "seed": 0, **options})


def test_morph_levels_from_files_or_arrays():
    morph = genmedia.morph_levels(*LEVELS, steps=3)
    assert len(morph) == 3 and all(lv.shape == (14, 80) and lv.dtype == np.uint8 for lv in morph)
    assert isinstance(morph.repaired, list)
    arrays = genmedia.morph_levels(*(genmedia.read_level(p) for p in LEVELS), steps=3)
    for a, b in zip(morph, arrays):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="steps"):
        genmedia.morph_levels(*LEVELS, steps=1)
    with pytest.raises(ValueError, match="uint8"):
        genmedia.morph_levels(np.zeros((14, 32)), LEVELS[1])
    with pytest.raises(genmedia.InputError, match="missing.txt"):
        genmedia.morph_levels(LEVELS[0], LEVELS[0].with_name("missing.txt"))


def test_write_level_reads_back(tmp_path):
    level = genmedia.sample_levels(count=1, width=32, seed=2)[0]
    path = genmedia.write_level(tmp_path / "level.txt", level)
    np.testing.assert_array_equal(genmedia.read_level(path), level)
    with pytest.raises(genmedia.GenmediaError, match="exists"):
        genmedia.write_level(path, level)
    genmedia.write_level(path, level, overwrite=True)
    assert genmedia.render_level(level).size == (32 * 16, 14 * 16)


# --- melodies -------------------------------------------------------------------------------------------

def _trimmed(tokens: np.ndarray) -> np.ndarray:
    """Tokens without their trailing rests (MIDI holds notes, not the silence after the last)."""
    sounding = np.flatnonzero(tokens != 0)
    return tokens[: sounding[-1] + 1]


def test_sample_melodies_is_seeded(tmp_path):
    melodies = genmedia.sample_melodies(count=2, seed=3)
    assert len(melodies) == 2
    for m in melodies:
        assert isinstance(m, genmedia.Melody) and m.tokens.shape == (32,) and m.tokens.dtype == np.int64
        assert m.tempo == 120.0 and m.time_signature == (4, 4) and int(m.tokens.max()) < 50
    for a, b in zip(melodies, genmedia.sample_melodies(count=2, seed=3)):
        np.testing.assert_array_equal(a.tokens, b.tokens)
    path = genmedia.write_midi(tmp_path / "m.mid", melodies[0], tempo=100, program=73)
    back = genmedia.read_melody(path)
    assert back.tempo == 100.0
    np.testing.assert_array_equal(back.tokens, _trimmed(melodies[0].tokens))
    with pytest.raises(ValueError, match="temperature"):
        genmedia.sample_melodies(count=1, seed=0, temperature=float("inf"))


def test_morph_melodies_from_files_or_melodies(tmp_path):
    morph = genmedia.morph_melodies(*MELODIES, steps=3)
    a = genmedia.read_melody(MELODIES[0])
    assert len(morph) == 3 and all(m.tokens.shape == (32,) for m in morph)
    assert morph[0].tempo == a.tempo and morph[0].time_signature == (4, 4)
    same = genmedia.morph_melodies(a, genmedia.read_melody(MELODIES[1]), steps=3)
    for x, y in zip(morph, same):
        np.testing.assert_array_equal(x.tokens, y.tokens)
    whole = genmedia.write_midi(tmp_path / "morph.mid", morph)
    np.testing.assert_array_equal(genmedia.read_melody(whole).tokens,
                                  _trimmed(np.concatenate([m.tokens for m in morph])))
    wav = genmedia.write_wav(tmp_path / "morph.wav", morph)
    with wave.open(str(wav)) as audio:
        assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (44100, 1, 2)
    with pytest.raises(ValueError, match="steps"):
        genmedia.morph_melodies(*MELODIES, steps=1)
    with pytest.raises(TypeError, match="Melody or a path"):
        genmedia.morph_melodies(a, 3)
    with pytest.raises(ValueError, match="program"):
        genmedia.write_midi(tmp_path / "x.mid", morph[0], program=128)


# --- images ---------------------------------------------------------------------------------------------

def _noisy(shape: tuple[int, ...], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth picture in [0, 1] of `shape` and the same with white noise of sigma 25 / 255."""
    h, w = shape[:2]
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    clean = 0.2 + 0.6 * (0.5 + 0.5 * np.sin(3 * x + 2 * y))
    clean = np.repeat(clean[..., None], shape[2], axis=2) if len(shape) == 3 else clean
    rng = np.random.default_rng(seed)
    return clean, np.clip(clean + rng.normal(0, 25 / 255, clean.shape), 0, 1)


def test_denoise_gray_uint8_2d_is_returned_2d_and_cleaner():
    clean, noisy = _noisy((48, 48))
    pixels = np.rint(noisy * 255).astype(np.uint8)
    out = genmedia.denoise(pixels)
    assert out.shape == (48, 48) and out.dtype == np.uint8
    error = [np.sqrt(np.mean((im / 255 - clean) ** 2)) for im in (pixels, out)]
    assert error[1] < 0.6 * error[0]
    np.testing.assert_array_equal(genmedia.denoise(pixels[..., None]), out[..., None])


def test_denoise_uint16_rgb_matches_the_denoiser():
    _, noisy = _noisy((48, 48, 3))
    pixels = np.rint(noisy * 65535).astype(np.uint16)
    out = genmedia.denoise(pixels, noise_level=25)
    assert out.shape == (48, 48, 3) and out.dtype == np.uint16
    np.testing.assert_array_equal(out, genmedia.Denoiser.load().denoise(pixels, sigma=25))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_denoise_float_rgb_keeps_dtype_and_range(dtype):
    _, noisy = _noisy((48, 48, 3))
    out = genmedia.denoise(noisy.astype(dtype), noise_level=25)
    assert out.shape == (48, 48, 3) and out.dtype == dtype
    assert 0.0 <= out.min() and out.max() <= 1.0
    as_uint8 = genmedia.denoise(np.rint(noisy * 255).astype(np.uint8), noise_level=25)
    assert np.abs(out * 255 - as_uint8).max() < 3  # the same model, up to the input's rounding


def test_denoise_rgba_keeps_alpha():
    _, noisy = _noisy((48, 48, 3))
    alpha = np.random.default_rng(1).integers(0, 256, (48, 48, 1), dtype=np.uint8)
    pixels = np.concatenate([np.rint(noisy * 255).astype(np.uint8), alpha], axis=2)
    out = genmedia.denoise(pixels, noise_level=25)
    assert out.shape == (48, 48, 4) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[..., 3:], alpha)
    np.testing.assert_array_equal(out[..., :3], genmedia.denoise(pixels[..., :3], noise_level=25))


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "I;16"])
def test_denoise_pil_images_keep_their_mode(mode):
    _, noisy = _noisy((48, 40, 3))
    image = Image.fromarray(np.rint(noisy * 255).astype(np.uint8))
    image = image.convert(mode) if mode != "I;16" else Image.fromarray(np.rint(noisy[..., 0] * 65535).astype(np.uint16))
    image.info["dpi"] = (300, 300)
    out = genmedia.denoise(image, noise_level=20)
    assert isinstance(out, Image.Image) and out.mode == mode and out.size == (40, 48)
    assert out.info["dpi"] == (300, 300)
    if mode in ("L", "RGB"):
        np.testing.assert_array_equal(np.asarray(out), genmedia.denoise(np.asarray(image), noise_level=20))


@pytest.mark.parametrize("pixels, error, words", [
    (np.full((48, 48, 3), 128.0), ValueError, "within \\[0, 1\\]"),  # 0-255 floats are not clipped silently
    (np.full((48, 48), -0.1, dtype=np.float32), ValueError, "within \\[0, 1\\]"),
    (np.full((48, 48), np.nan, dtype=np.float32), ValueError, "finite"),
    (np.zeros((48, 48), dtype=np.int64), TypeError, "dtype int64"),
    (np.zeros((48, 48, 5), dtype=np.uint8), ValueError, "shape"),
    (np.zeros((48,), dtype=np.uint8), ValueError, "shape"),
    (np.zeros((0, 48), dtype=np.uint8), ValueError, "shape"),
    ([[0, 1], [1, 0]], TypeError, "numpy array or a PIL image"),
])
def test_denoise_refuses_what_it_cannot_take_back(pixels, error, words):
    with pytest.raises(error, match=words):
        genmedia.denoise(pixels)


@pytest.mark.parametrize("level", [float("nan"), float("inf"), -1.0, 256.0])
def test_denoise_refuses_a_bad_noise_level(level):
    with pytest.raises(ValueError, match="noise_level"):
        genmedia.denoise(np.zeros((48, 48), dtype=np.uint8), noise_level=level)


def test_denoise_refuses_an_unsupported_pil_mode():
    with pytest.raises(ValueError, match="mode 'F'"):
        genmedia.denoise(Image.new("F", (16, 16)))


def test_photos_read_denoise_and_write_back(tmp_path):
    photo = genmedia.read_photo(ASSETS / "images" / "landscape-noisy.png")
    crop = np.ascontiguousarray(photo.pixels[:64, :64])
    out = genmedia.denoise(crop)
    path = genmedia.write_photo(tmp_path / "crop.png", photo, out)
    np.testing.assert_array_equal(genmedia.read_photo(path).pixels, out)


# --- conditional levels ---------------------------------------------------------------------------------

def test_level_request_merges_attributes_and_a_prompt():
    request = genmedia.level_request(attributes={"enemies": "MANY", "pipes": ["none", "many"], "coins": "few,some"},
                                     prompt="no enemies, low elevation, jumping dragons")
    assert request.attributes == {"enemies": ["many"], "pipes": ["none", "many"], "coins": ["few", "some"],
                                  "elevation": ["low"]}  # the attributes win over the prompt's "no enemies"
    assert request.not_understood == ("jumping dragons",)
    assert genmedia.level_request() == api.LevelRequest({})


@pytest.mark.parametrize("attributes, error, words", [
    ({"lava": "many"}, ValueError, "unknown level attribute 'lava'"),
    ({"enemies": "lots"}, ValueError, "'lots' is not a bin of enemies"),
    ({"elevation": "many"}, ValueError, "not a bin of elevation"),
    ({"pipes": []}, ValueError, "at least one"),
    ({"pipes": [3]}, TypeError, "bin label"),
])
def test_level_request_refuses_what_no_model_makes(attributes, error, words):
    with pytest.raises(error, match=words):
        genmedia.level_request(attributes=attributes)


def test_sample_levels_with_attributes_uses_the_conditional_model_and_records_the_bins():
    from genmedia.levels import model as level_model

    levels = genmedia.sample_levels(count=2, width=64, seed=4, attributes={"enemies": "many", "pipes": "none,many"})
    assert len(levels) == 2 and len(levels.attempts) == 2 and all(a >= 1 for a in levels.attempts)
    record = levels.records[1]
    assert record["model"] == "smb-level-cvae" and record["width"] == 64
    assert record["requested"] == {"enemies": ["many"] * 4, "pipes": ["none", "none", "many", "many"]}
    assert set(record["others"]) == {"gaps", "blocks", "coins", "elevation"}
    direct = level_model.sample_levels(genmedia.LevelModel.load("smb-level-cvae"), count=2, width=64, seed=4,
                                       request={"enemies": ["many"], "pipes": ["none", "many"]})
    for a, b in zip(levels, direct.levels):
        np.testing.assert_array_equal(a, b)
    again = genmedia.sample_levels(count=2, width=64, seed=4,
                                   attributes=genmedia.level_request(prompt="many enemies", attributes={
                                       "pipes": ["none", "many"]}))
    for a, b in zip(levels, again):
        np.testing.assert_array_equal(a, b)
    plain = genmedia.sample_levels(count=1, width=32, seed=4)
    assert plain.records == [] and len(plain.attempts) == 1
    with pytest.raises(ValueError, match="'smb-level-vae' is not conditional"):
        genmedia.sample_levels(count=1, width=32, seed=0, attributes={"enemies": "many"}, model="smb-level-vae")
    with pytest.raises(TypeError, match="attributes must be"):
        genmedia.sample_levels(count=1, width=32, seed=0, attributes=["enemies"])


def test_transform_level_changes_what_is_asked_and_keeps_the_rest():
    done = genmedia.transform_level(LEVELS[0], attributes={"enemies": "many"})
    source = genmedia.read_level(LEVELS[0])
    assert done.level.shape == source.shape and done.level.dtype == np.uint8
    assert done.record["requested"] == {"enemies": ["many"] * 5}
    assert done.record["others_are"] == "measured on the input"
    assert list(done.in_bin) == ["enemies"]
    hits, windows = done.in_bin["enemies"]
    assert windows == 5 and hits >= 4
    assert (done.level == ord("E")).sum() > (source == ord("E")).sum()
    from_array = genmedia.transform_level(source, attributes={"enemies": "many"})  # deterministic
    np.testing.assert_array_equal(from_array.level, done.level)
    with pytest.raises(ValueError, match="at least one attribute"):
        genmedia.transform_level(LEVELS[0], attributes={})
    with pytest.raises(ValueError, match="'smb-level-vae' is not conditional; transform needs one"):
        genmedia.transform_level(LEVELS[0], attributes={"enemies": "many"}, model="smb-level-vae")


# --- concept vectors ------------------------------------------------------------------------------------

def test_sample_melodies_shifted_along_a_concept_vector():
    from genmedia.melody import concepts

    plain = genmedia.sample_melodies(count=3, seed=5)
    denser = genmedia.sample_melodies(count=3, seed=5, shift={"density": 2.0})
    direct = concepts.sample_shifted(genmedia.MelodyModel.load(), count=3, seed=5,
                                     attribute_shift={"density": 2.0})
    np.testing.assert_array_equal(np.stack([m.tokens for m in denser]), direct)
    assert not np.array_equal(np.stack([m.tokens for m in plain]), direct)
    unshifted = genmedia.sample_melodies(count=3, seed=5, shift={})
    np.testing.assert_array_equal(np.stack([m.tokens for m in unshifted]), np.stack([m.tokens for m in plain]))
    with pytest.raises(ValueError, match="unknown melody attribute 'loudness'"):
        genmedia.sample_melodies(seed=0, shift={"loudness": 1.0})
    with pytest.raises(ValueError, match="finite"):
        genmedia.sample_melodies(seed=0, shift={"density": float("nan")})


def test_transform_melody_moves_the_attribute_it_names():
    from genmedia.melody import concepts

    done = genmedia.transform_melody(MELODIES[0], attribute="pitch", amount=2.0)
    assert isinstance(done.melody, genmedia.Melody) and done.melody.tokens.shape == (32,)
    a = genmedia.read_melody(MELODIES[0])
    assert done.melody.tempo == a.tempo and done.melody.time_signature == (4, 4)
    assert (done.attribute, done.amount) == ("pitch", 2.0) and done.after > done.before
    direct = concepts.transform_melody(genmedia.MelodyModel.load(), a, attribute="pitch", amount=2.0)
    np.testing.assert_array_equal(done.melody.tokens, direct)
    same = genmedia.transform_melody(a, attribute="pitch", amount=2.0)
    np.testing.assert_array_equal(same.melody.tokens, done.melody.tokens)


def test_sweep_melody_runs_from_minus_to_plus_amount():
    sweep = genmedia.sweep_melody(MELODIES[0], attribute="density", amount=1.0, steps=3, oversample=1)
    assert [s.amount for s in sweep] == [-1.0, 0.0, 1.0]
    densities = [s.after for s in sweep]
    assert densities == sorted(densities) and densities[0] < densities[-1]
    assert len({s.before for s in sweep}) == 1
    middle = genmedia.transform_melody(MELODIES[0], attribute="density", amount=0.0)
    np.testing.assert_array_equal(sweep[1].melody.tokens, middle.melody.tokens)
    chosen = genmedia.sweep_melody(MELODIES[0], attribute="density", amount=1.0, steps=3)  # oversample=8
    line = genmedia.sweep_melody(MELODIES[0], attribute="density", amount=1.0, steps=17, oversample=1)
    picked = concepts_mod.attribute_steps(np.array([s.after for s in line]), 3)
    assert [s.amount for s in chosen] == [line[i].amount for i in picked]  # chosen among the 8x denser line
    assert chosen[1].amount != 0.0  # here not the even middle
    at = genmedia.transform_melody(MELODIES[0], attribute="density", amount=chosen[1].amount)
    np.testing.assert_array_equal(chosen[1].melody.tokens, at.melody.tokens)
    assert [s.after for s in chosen] == sorted(s.after for s in chosen)


@pytest.mark.parametrize("call, error, words", [
    (lambda: genmedia.transform_melody(MELODIES[0], attribute="loudness"), ValueError, "unknown melody attribute"),
    (lambda: genmedia.transform_melody(MELODIES[0], attribute="pitch", amount=float("inf")), ValueError, "finite"),
    (lambda: genmedia.sweep_melody(MELODIES[0], attribute="pitch", steps=1), ValueError, "steps"),
    (lambda: genmedia.sweep_melody(MELODIES[0], attribute="pitch", oversample=0), ValueError, "oversample"),
    (lambda: genmedia.transform_melody(MELODIES[0], attribute="pitch", model="melody-16bar"), genmedia.ModelError,
     "has no concept vectors"),
    (lambda: genmedia.transform_melody(3, attribute="pitch"), TypeError, "Melody or a path"),
])
def test_transforms_refuse_bad_arguments(call, error, words):
    with pytest.raises(error, match=words):
        call()


# --- noise estimate, writers ----------------------------------------------------------------------------

def test_estimate_noise_level_is_what_denoise_uses():
    clean, noisy = _noisy((48, 48))
    pixels = np.rint(noisy * 255).astype(np.uint8)
    sigma = genmedia.estimate_noise_level(pixels)
    assert sigma == genmedia.Denoiser.load().estimate(pixels[..., None])
    assert 15 < sigma < 35  # the noise is of sigma 25
    assert genmedia.estimate_noise_level(np.rint(clean * 255).astype(np.uint8)) < sigma
    assert genmedia.estimate_noise_level(Image.fromarray(pixels)) == sigma
    np.testing.assert_array_equal(genmedia.denoise(pixels, noise_level=sigma), genmedia.denoise(pixels))
    with pytest.raises(TypeError, match="numpy array or a PIL image"):
        genmedia.estimate_noise_level([[0]])


def test_the_api_writers_say_overwrite_as_python_does(tmp_path):
    from genmedia.fileio import OutputExistsError, write_text_atomic

    level = genmedia.parse_level("-" * 16 + "\n")
    photo = genmedia.read_photo(ASSETS / "images" / "landscape-noisy.png")
    writers = [lambda p, **kw: genmedia.write_level(p / "a.txt", level, **kw),
               lambda p, **kw: genmedia.write_midi(p / "a.mid", genmedia.read_melody(MELODIES[0]), **kw),
               lambda p, **kw: genmedia.write_wav(p / "a.wav", genmedia.read_melody(MELODIES[0]), **kw),
               lambda p, **kw: genmedia.write_photo(p / "a.png", photo, photo.pixels, **kw)]
    for write in writers:
        path = write(tmp_path)
        with pytest.raises(OutputExistsError, match=r"already exists \(pass overwrite=True to replace it\)$"):
            write(tmp_path)
        assert write(tmp_path, overwrite=True) == path
    folder = tmp_path / "taken"
    (folder / "a.txt").mkdir(parents=True)
    with pytest.raises(genmedia.GenmediaError, match="is a folder, not a regular file; overwrite=True replaces"):
        writers[0](folder, overwrite=True)
    with pytest.raises(OutputExistsError, match=r"\(use --overwrite to replace it\)$"):  # the CLI's words otherwise
        write_text_atomic(path.with_name("a.txt"), "x\n")


# --- the CLI runs its jobs through this API -------------------------------------------------------------

@pytest.mark.parametrize("args, called", [
    (["level", "sample", "-n", "1", "--width", "32", "--seed", "1", "--no-png"], {"sample_levels", "level_request"}),
    (["level", "sample", "-n", "1", "--width", "32", "--seed", "1", "--no-png", "--prompt", "many coins"],
     {"sample_levels", "level_request"}),
    (["level", "transform", LEVELS[0], "--enemies", "many", "--no-png", "-o", "OUT/t.txt"],
     {"transform_level", "level_request"}),
    (["level", "interpolate", *LEVELS, "--steps", "2"], {"morph_levels"}),
    (["music", "sample", "-n", "1", "--seed", "1"], {"sample_melodies"}),
    (["music", "sample", "-n", "1", "--seed", "1", "--attribute", "density=1"], {"sample_melodies"}),
    (["music", "interpolate", *MELODIES, "--steps", "2"], {"morph_melodies"}),
    (["music", "transform", MELODIES[0], "--attribute", "pitch", "-o", "OUT/t.mid"], {"transform_melody"}),
    (["music", "transform", MELODIES[0], "--attribute", "pitch", "--steps", "2", "-o", "OUT/sweep"],
     {"sweep_melody"}),
    (["demo", "OUT/demo"], {"sample_levels", "morph_levels", "morph_melodies", "sample_melodies",
                            "estimate_noise_level", "denoise"}),
])
def test_the_cli_calls_the_api(tmp_path, monkeypatch, args, called):
    from click.testing import CliRunner

    from genmedia.cli import cli

    seen: set[str] = set()
    depth = [0]

    def spy(name: str):
        real = getattr(api, name)

        def call(*a, **kw):  # records the CLI's calls, not those the API makes of itself
            if not depth[0]:
                seen.add(name)
            depth[0] += 1
            try:
                return real(*a, **kw)
            finally:
                depth[0] -= 1
        return call

    for name in api.__all__:
        if name[0].islower():
            monkeypatch.setattr(api, name, spy(name))
    out = tmp_path / "out"
    argv = [str(a).replace("OUT", str(out)) for a in args]
    if "-o" not in argv and args[0] != "demo":
        argv += ["-o", str(out)]
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert seen == called
