"""Outputs under hostile conditions: device nodes, racing runs, full disks and SIGTERM.

Every case checks what is left on disk, not only the exit code: nothing half-written, no
hidden temporary files, and nothing that was there before replaced or destroyed.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from genmedia.cli import cli
from genmedia.fileio import HIDDEN_PREFIX, OutputError, OutputExistsError, output_set, write_atomic, write_text_atomic
from genmedia.resources import resource_dir

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = resource_dir("assets") / "levels" / "example-a.txt"
NOT_REGULAR = "not a regular file; --overwrite replaces only regular files"


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def last_line(result) -> str:
    return result.output.strip().splitlines()[-1]


def tree(folder: Path) -> dict[str, bytes | str]:
    """Every entry under `folder` (hidden ones too): file bytes, or what a link/node/folder is."""
    out: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        mode = os.lstat(path).st_mode
        key = str(path.relative_to(folder))
        if stat.S_ISLNK(mode):
            out[key] = f"link -> {os.readlink(path)}"
        elif stat.S_ISREG(mode):
            out[key] = path.read_bytes()
        else:
            out[key] = "folder" if stat.S_ISDIR(mode) else f"node {stat.S_IFMT(mode):o}"
    return out


def hidden(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.startswith(HIDDEN_PREFIX)]


def script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def wait_for(path: Path, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


# --- 1. --overwrite only ever replaces a regular file ----------------------------------------

def _fifo(path: Path) -> str:
    os.mkfifo(path)
    return f"is a FIFO (named pipe), {NOT_REGULAR}"


def _link_to_dev_null(path: Path) -> str:
    path.symlink_to("/dev/null")
    return f"is a symbolic link to a character device, {NOT_REGULAR}"


def _link_to_fifo(path: Path) -> str:
    os.mkfifo(path.with_name("pipe"))
    path.symlink_to(path.with_name("pipe"))
    return f"is a symbolic link to a FIFO (named pipe), {NOT_REGULAR}"


def _folder(path: Path) -> str:
    path.mkdir()
    (path / "inside.txt").write_text("keep\n")
    return f"is a folder, {NOT_REGULAR}"


def _broken_link(path: Path) -> str:
    path.symlink_to(path.with_name("nowhere"))
    return "is a broken symbolic link; --overwrite replaces only regular files"


@pytest.mark.parametrize("make", [_fifo, _link_to_dev_null, _link_to_fifo, _folder, _broken_link])
def test_overwrite_refuses_anything_but_a_regular_file(tmp_path, make):
    target = tmp_path / "out.txt"
    why = make(target)
    before = tree(tmp_path)
    with pytest.raises(OutputError) as caught:
        write_text_atomic(target, "x\n", overwrite=True)
    assert str(caught.value) == f"{target}: {why}"
    assert tree(tmp_path) == before  # the node is untouched and no temporary file is left
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    with pytest.raises(OutputExistsError):  # and without --overwrite the name is simply taken
        write_text_atomic(target, "x\n")


@pytest.mark.parametrize("make", [_fifo, _link_to_dev_null])
def test_cli_overwrite_onto_a_node_is_one_error_line(tmp_path, make):
    target = tmp_path / "out.png"
    why = make(target)
    before = tree(tmp_path)
    result = run("level", "render", EXAMPLE, "-o", target, "--overwrite")
    assert result.exit_code == 1
    assert result.output == f"error: {target}: {why}\n"
    assert tree(tmp_path) == before
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_overwrite_replaces_a_link_to_a_regular_file_not_the_file_behind_it(tmp_path):
    (tmp_path / "real.txt").write_text("theirs\n")
    (tmp_path / "link.txt").symlink_to("real.txt")
    write_text_atomic(tmp_path / "link.txt", "mine\n", overwrite=True)
    assert not (tmp_path / "link.txt").is_symlink() and (tmp_path / "link.txt").read_text() == "mine\n"
    assert (tmp_path / "real.txt").read_text() == "theirs\n"
    assert hidden(tmp_path) == []


def test_a_fifo_among_many_outputs_stops_the_whole_set(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "level-000.txt").write_text("old\n")
    os.mkfifo(out / "level-001.png")
    before = tree(out)
    result = run("level", "sample", "--count", "2", "--width", "32", "--seed", "1", "--overwrite", "-o", out)
    assert result.exit_code == 1
    assert last_line(result) == f"error: {out / 'level-001.png'}: is a FIFO (named pipe), {NOT_REGULAR}"
    assert tree(out) == before


IS_INPUT = "is an input of this command; an output never replaces an input (choose another output name)"
MELODY = resource_dir("assets") / "melodies" / "example-a.mid"


def _render_onto_itself(tmp_path: Path) -> tuple[list[object], Path]:
    level = tmp_path / "level.png"  # a map, whatever its name says
    level.write_bytes(EXAMPLE.read_bytes())
    return ["level", "render", level, "-o", level, "--tile-size", "2"], level


def _render_onto_a_link_to_it(tmp_path: Path) -> tuple[list[object], Path]:
    level = tmp_path / "level.txt"
    level.write_bytes(EXAMPLE.read_bytes())
    os.link(level, tmp_path / "same.png")  # another name for the very same file
    return ["level", "render", level, "-o", tmp_path / "same.png"], tmp_path / "same.png"


def _morph_into_its_input(tmp_path: Path) -> tuple[list[object], Path]:
    (tmp_path / "out").mkdir()
    a = tmp_path / "out" / "step-00.txt"
    a.write_bytes(EXAMPLE.read_bytes())
    return ["level", "interpolate", a, resource_dir("assets") / "levels" / "example-b.txt", "-o", tmp_path / "out",
            "--steps", "2", "--no-check"], a


def _plot_over_a_map(tmp_path: Path) -> tuple[list[object], Path]:
    (tmp_path / "maps").mkdir()
    level = tmp_path / "maps" / "level.txt"
    level.write_bytes(EXAMPLE.read_bytes())
    os.link(level, tmp_path / "plot.png")  # another name for the very same map
    return ["level", "eval", tmp_path / "maps", "--plot", tmp_path / "plot.png"], tmp_path / "plot.png"


def _wav_over_its_midi(tmp_path: Path) -> tuple[list[object], Path]:
    midi = tmp_path / "tune.wav"  # a MIDI file, whatever its name says
    midi.write_bytes(MELODY.read_bytes())
    return ["music", "render", midi, "-o", midi], midi


def _music_morph_into_its_input(tmp_path: Path) -> tuple[list[object], Path]:
    (tmp_path / "out").mkdir()
    a = tmp_path / "out" / "morph.mid"
    a.write_bytes(MELODY.read_bytes())
    return ["music", "interpolate", a, resource_dir("assets") / "melodies" / "example-b.mid", "-o", tmp_path / "out",
            "--steps", "2", "--oversample", "1"], a


@pytest.mark.parametrize("make", [_render_onto_itself, _render_onto_a_link_to_it, _morph_into_its_input,
                                  _plot_over_a_map, _wav_over_its_midi, _music_morph_into_its_input])
def test_an_output_never_replaces_an_input_even_with_overwrite(tmp_path, make):
    args, target = make(tmp_path)
    before = tree(tmp_path)
    result = run(*args, "--overwrite")
    assert result.exit_code == 1, result.output
    assert last_line(result) == f"error: {target}: {IS_INPUT}"
    assert tree(tmp_path) == before  # the input is as it was, and no temporary file is left


def test_the_output_helpers_refuse_an_input_as_a_target(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("keep\n")
    (tmp_path / "link.txt").symlink_to("in.txt")
    for target in (source, tmp_path / "link.txt"):
        with pytest.raises(OutputError) as caught:
            write_text_atomic(target, "x\n", overwrite=True, inputs=[tmp_path / "link.txt"])
        assert str(caught.value) == f"{target}: {IS_INPUT}"
    with pytest.raises(OutputError, match="is an input"):
        with output_set(tmp_path, overwrite=True, inputs=[source]) as batch:
            batch.write_text("other.txt", "x\n")
            batch.write_text("in.txt", "x\n")
    assert source.read_text() == "keep\n" and not (tmp_path / "other.txt").exists() and hidden(tmp_path) == []
    write_text_atomic(tmp_path / "in.txt", "new\n", overwrite=True)  # what is not an input may be replaced


# --- 2. a name taken by another run while this one was writing is never replaced ----------

def test_a_target_that_appears_while_writing_is_reported_not_replaced(tmp_path):
    def meanwhile(tmp: Path) -> None:  # "another run" publishes c.txt while this one writes b.txt
        tmp.write_text("mine\n")
        (tmp_path / "c.txt").write_text("theirs\n")

    with pytest.raises(OutputExistsError) as caught:
        with output_set(tmp_path) as batch:
            batch.write_text("a.txt", "mine\n")
            batch.write_text("c.txt", "mine\n")  # checked when planned: still free then
            batch.write("b.txt", meanwhile)
            batch.write_text("d.txt", "mine\n")
    assert str(caught.value) == f"{tmp_path / 'c.txt'}: already exists (use --overwrite to replace it)"
    assert tree(tmp_path) == {"c.txt": b"theirs\n"}


@pytest.mark.parametrize("links", [True, False], ids=["hard-links", "no-hard-links"])
def test_a_target_taken_at_the_moment_of_publishing_is_not_replaced(tmp_path, monkeypatch, links):
    """The other run takes b.txt after every check passed, just before this run publishes it."""
    real_link, real_open = os.link, os.open

    def take(path: Path) -> None:
        if Path(path) == tmp_path / "b.txt" and not Path(path).exists():
            Path(path).write_text("theirs\n")

    def racing_link(src, dst, **kwargs):
        take(dst)
        if not links:
            raise OSError(errno.EPERM, "Operation not permitted")
        return real_link(src, dst, **kwargs)

    def racing_open(path, flags, *args, **kwargs):
        take(path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "link", racing_link)
    monkeypatch.setattr(os, "open", racing_open)
    with pytest.raises(OutputExistsError, match="b.txt: already exists"):
        with output_set(tmp_path) as batch:
            for name in ("a.txt", "b.txt", "c.txt"):
                batch.write_text(name, "mine\n")
    assert tree(tmp_path) == {"b.txt": b"theirs\n"}  # a.txt, published first, was removed again


def test_without_hard_links_outputs_are_still_published(tmp_path, monkeypatch):
    def no_links(src, dst, **kwargs):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    write_text_atomic(tmp_path / "a.txt", "one\n")
    with pytest.raises(OutputExistsError):
        write_text_atomic(tmp_path / "a.txt", "two\n")
    write_text_atomic(tmp_path / "a.txt", "three\n", overwrite=True)
    assert tree(tmp_path) == {"a.txt": b"three\n"}


CONCURRENT = """
    import sys, time
    from pathlib import Path
    from genmedia.fileio import OutputExistsError, output_set

    folder, tag, ready, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])

    def last(tmp):  # hold the whole set, written, until both runs are ready to publish
        tmp.write_text(tag)
        ready.touch()
        while not go.exists():
            time.sleep(0.005)

    try:
        with output_set(folder) as batch:
            for k in range(6):
                batch.write_text(f"f{k}.txt", tag)
            batch.write("f6.txt", last)
    except OutputExistsError as exc:
        sys.exit(f"error: {exc}")
"""


def test_concurrent_runs_into_one_folder_never_replace_each_other(tmp_path):
    code_path = script(tmp_path, "concurrent.py", CONCURRENT)
    out, go = tmp_path / "out", tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, code_path, out, tag, tmp_path / f"ready-{tag}", go], cwd=REPO,
                              stderr=subprocess.PIPE, text=True) for tag in ("A", "B")]
    for tag, proc in zip("AB", procs):
        wait_for(tmp_path / f"ready-{tag}", proc)
    go.touch()  # both publish at once
    errors = [proc.communicate(timeout=60)[1] for proc in procs]
    codes = [proc.returncode for proc in procs]
    assert sorted(codes) == [0, 1], errors
    won = codes.index(0)
    assert "already exists (use --overwrite to replace it)" in errors[1 - won]
    winner = "AB"[won]
    assert tree(out) == {f"f{k}.txt": winner.encode() for k in range(7)}  # one run's set, whole


# --- 3 and 5. a failed write leaves nothing, and the message names the file ----------------

@pytest.mark.parametrize("code, why", [(errno.ENOSPC, "No space left on device"), (errno.EACCES, "Permission denied")])
def test_a_failed_third_file_leaves_nothing(tmp_path, code, why):
    out = tmp_path / "new" / "out"  # neither folder exists yet: both are made, and removed again

    def third(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise OSError(code, os.strerror(code))

    with pytest.raises(OutputError) as caught:
        with output_set(out) as batch:
            batch.write_text("a.txt", "1\n")
            batch.write_text("sub/b.txt", "2\n")
            batch.write("c.txt", third)
            batch.write_text("d.txt", "4\n")
    assert str(caught.value) == f"{out / 'c.txt'}: cannot write: {why}"
    assert tree(tmp_path) == {}


def test_a_failure_while_publishing_undoes_what_was_published(tmp_path, monkeypatch):
    (tmp_path / "keep.txt").write_text("mine\n")
    real_link, calls = os.link, []

    def full_on_third(src, dst, **kwargs):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_link(src, dst, **kwargs)

    monkeypatch.setattr(os, "link", full_on_third)
    with pytest.raises(OutputError, match=f"^{tmp_path / 'c.txt'}: cannot write: No space left on device$"):
        with output_set(tmp_path) as batch:
            for name in ("d.txt", "c.txt", "b.txt", "a.txt"):
                batch.write_text(name, "new\n")
    assert tree(tmp_path) == {"keep.txt": b"mine\n"}


def test_with_overwrite_a_failed_set_puts_the_replaced_files_back(tmp_path, monkeypatch):
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text(f"old {name}\n")
    before = tree(tmp_path)
    real_replace, calls = os.replace, []

    def full_on_third(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", full_on_third)
    with pytest.raises(OutputError, match="c.txt: cannot write: No space left on device"):
        with output_set(tmp_path, overwrite=True) as batch:
            for name in ("a.txt", "b.txt", "c.txt"):
                batch.write_text(name, "new\n")
    assert tree(tmp_path) == before


def test_a_nested_single_file_writer_is_reported_under_the_real_name(tmp_path):
    def full(tmp: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputError) as caught:
        with output_set(tmp_path) as batch:
            batch.write("x.wav", lambda tmp: write_atomic(tmp, full))
    assert str(caught.value) == f"{tmp_path / 'x.wav'}: cannot write: No space left on device"
    assert tree(tmp_path) == {}


def test_disk_full_in_level_sample_names_the_file_and_writes_nothing(tmp_path, monkeypatch):
    from PIL import Image

    real_save, calls = Image.Image.save, []

    def full_on_second_png(self, fp, *args, **kwargs):
        calls.append(fp)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", full_on_second_png)
    out = tmp_path / "out"
    result = run("level", "sample", "--count", "3", "--width", "32", "--seed", "1", "-o", out)
    assert result.exit_code == 1
    assert last_line(result) == f"error: {out / 'level-001.png'}: cannot write: No space left on device"
    assert not out.exists()


# --- 4. SIGTERM and SIGHUP clean up like Ctrl-C ------------------------------------------------------

SLOW_SAMPLE = """
    import signal, sys, time
    from pathlib import Path
    import genmedia.levels.output as output

    # As in a terminal, whatever the test runner's parent set (background jobs ignore SIGINT).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)  # (nohup, as CI may run under, ignores it)

    marker, out = Path(sys.argv[1]), sys.argv[2]
    render, calls = output.render_level, []

    def slow_render(level, **kwargs):  # on the third PNG, say "writing" and wait to be stopped
        calls.append(level)
        if len(calls) == 3:
            marker.touch()
            time.sleep(120)
        return render(level, **kwargs)

    output.render_level = slow_render
    from genmedia.cli import main

    sys.argv = ["genmedia", "level", "sample", "--count", "5", "--width", "32", "--seed", "1", "-o", out]
    main()
"""


@pytest.mark.parametrize("signum, code, message", [
    (signal.SIGTERM, 143, "error: terminated by SIGTERM; unfinished outputs were removed"),
    (signal.SIGINT, 130, "error: interrupted; unfinished outputs were removed"),  # not click's "Aborted!", exit 1
    (signal.SIGHUP, 129, "error: terminated by SIGHUP; unfinished outputs were removed"),  # the terminal closed
])
def test_a_signal_mid_write_leaves_no_temporary_files(tmp_path, signum, code, message):
    code_path = script(tmp_path, "slow.py", SLOW_SAMPLE)
    marker, out = tmp_path / "writing", tmp_path / "out"
    proc = subprocess.Popen([sys.executable, code_path, marker, out], cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(marker, proc)
        assert len([p for p in out.rglob("*") if p.is_file()]) == 5  # 3 maps and 2 PNGs, out of sight
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code
    assert err == message + "\n"  # one line, no traceback
    assert not out.exists()  # the folder it made is gone too: nothing half-written, nothing hidden
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slow.py", "writing"]


def test_importing_the_library_leaves_sigterm_alone():
    probe = ("import signal; before = signal.getsignal(signal.SIGTERM); "
             "import genmedia.cli, genmedia.fileio, genmedia.levels.output, genmedia.melody.output; "
             "print(signal.getsignal(signal.SIGTERM) == before)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "True", done.stderr


def _small_png(path: Path) -> Path:
    import numpy as np
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(path)
    return path


def test_denoise_refuses_a_report_that_is_an_input(tmp_path):
    src = _small_png(tmp_path / "in" / "p0.png")
    before = src.read_bytes()
    result = run("image", "denoise", src, "-o", tmp_path / "out", "--report", src, "--overwrite")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and str(src) in result.stderr and "input" in result.stderr
    assert src.read_bytes() == before
    assert not (tmp_path / "out").exists()  # refused before any work
    # a hard link to an input, given through its folder, is the input too
    os.link(src, tmp_path / "link.json")
    result = run("image", "denoise", tmp_path / "in", "-o", tmp_path / "out", "--report", tmp_path / "link.json",
                 "--overwrite")
    assert result.exit_code == 1 and "input" in result.stderr and src.read_bytes() == before


def test_denoise_refuses_a_report_that_is_one_of_its_outputs(tmp_path):
    _small_png(tmp_path / "in" / "a.png")
    _small_png(tmp_path / "in" / "b.png")
    for overwrite in ((), ("--overwrite",)):
        result = run("image", "denoise", tmp_path / "in", "-o", tmp_path / "out", "--report",
                     tmp_path / "out" / "b.png", *overwrite)
        assert result.exit_code == 1
        assert result.stderr == (f"error: {tmp_path / 'out' / 'b.png'}: is where {tmp_path / 'in' / 'b.png'} is "
                                 "denoised to; a report never replaces an output (choose another report name)\n")
        assert not (tmp_path / "out").exists()  # refused before any work


def test_denoise_overwrite_never_replaces_an_input_through_a_hard_link(tmp_path):
    a = _small_png(tmp_path / "in" / "a.png")
    _small_png(tmp_path / "in" / "b.png")
    before = a.read_bytes()
    (tmp_path / "out").mkdir()
    os.link(a, tmp_path / "out" / "a.png")
    result = run("image", "denoise", tmp_path / "in", "-o", tmp_path / "out", "--overwrite", "-q")
    assert result.exit_code == 1
    assert a.read_bytes() == before
    lines = result.stderr.splitlines()
    assert any(line.startswith(f"error: {a}: ") and "hard link" in line for line in lines), result.stderr
    assert lines[-1] == f"failed: {a}"
    assert (tmp_path / "out" / "b.png").exists()  # the batch went on


def test_a_glob_names_symlink_loops_as_a_folder_does(tmp_path):
    good = _small_png(tmp_path / "in" / "good.png")
    os.symlink(tmp_path / "in" / "loop.png", tmp_path / "in" / "loop.png")
    for source in (str(tmp_path / "in" / "*.png"), tmp_path / "in"):
        out = tmp_path / f"out{len(str(source))}"
        result = run("image", "denoise", source, "-o", out, "-q")
        assert result.exit_code == 1
        loop = tmp_path / "in" / "loop.png"
        assert any(line.startswith(f"error: {loop}: ") for line in result.stderr.splitlines()), result.stderr
        assert result.stderr.splitlines()[-1] == f"failed: {loop}"
        assert (out / good.name).exists()


def test_a_killed_runs_temporary_folder_is_removed_by_a_later_run(tmp_path):
    import time

    from genmedia.fileio import STALE_AFTER, _host_prefix, remove_stale_temporaries

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host_prefix = _host_prefix()
    old = time.time() - STALE_AFTER - 60

    def left(name: str, *, age: float = old) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "level-000.txt").write_text("half")
        os.utime(folder, (age, age))
        return folder

    killed = left(f"{host_prefix}{dead.stdout.strip()}-abc123")  # a process that is gone: removed
    fresh = left(f"{host_prefix}{dead.stdout.strip()}-def456", age=time.time())  # too recent: kept
    alive = left(f"{host_prefix}{os.getppid()}-ghi789")  # a live process: kept
    other_host = left(f"{HIDDEN_PREFIX}elsewhere_host-{dead.stdout.strip()}-jkl012")  # another host: kept
    old_style = left(f"{HIDDEN_PREFIX}mno345")  # no host or process in the name: kept
    huge = left(f"{host_prefix}{10**20}-stu901")  # no process can have it (os.kill would overflow): kept
    assert remove_stale_temporaries(tmp_path) == [killed]
    assert not killed.exists() and all(p.exists() for p in (fresh, alive, other_host, old_style, huge))
    # and a run into the folder does it on its own
    again = left(f"{host_prefix}{dead.stdout.strip()}-pqr678")
    result = run("level", "sample", "-n", "1", "--width", "32", "--seed", "1", "--no-png", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    assert not again.exists() and (tmp_path / "level-000.txt").exists()
