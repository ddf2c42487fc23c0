"""Run an image batch on a Ray cluster: the same files, outputs and accounting as `denoise_files`.

The driver (the `genmedia` process) plans the batch as a local run does and keeps every decision
about it; a pool of Ray actors, one ONNX Runtime session each, does the work. Each actor runs
`genmedia.image.batch.denoise_file` itself, the very function a local run calls, on one file at
a time: it reads the input by path (`read_photo`, which refuses FIFOs and devices and checks the
pixel limit before decoding), denoises it and publishes the output through `genmedia.fileio`,
so formats, metadata, `--overwrite`/`--skip-existing` and atomic publishing are the local run's
and the outputs are byte for byte the same. Only job descriptions, tile counts and results
travel through Ray; pixels never do. Inputs and outputs must therefore be on a filesystem that
every node sees at the same path, and every node needs the same genmedia (the driver checks that
each actor's model files have its own sha256s).

Ray Data is not used to read the files: its readers open every path (a FIFO would block a read
task), fail the whole dataset on one bad file, decode without genmedia's pixel guard and keep
none of the metadata, and the image code needs the path anyway (16-bit PNG and TIFF, WebP
losslessness). ray is imported only inside these functions, so importing genmedia never does.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import queue
import signal
import socket
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from genmedia import limits
from genmedia.errors import GenmediaError, MissingExtraError, ModelError
from genmedia.image.batch import Job, Result, denoise_file
from genmedia.image.denoise import Denoiser
from genmedia.registry import ModelInfo, get_model

RAY_INSTALL_HINT = "pip install 'genmedia[ray]'"
ACTOR_CPUS = 1.0  # Ray CPUs each actor holds; its session runs this many threads


class RayError(GenmediaError):
    """The Ray cluster cannot be reached, or no worker on it can run the denoiser."""


def require_ray() -> None:
    """Raise `MissingExtraError` naming the install command when ray is not installed."""
    if importlib.util.find_spec("ray") is None:
        raise MissingExtraError(f"--ray needs ray, which is not installed; install it with: {RAY_INSTALL_HINT}")


@contextmanager
def ray_cluster(address: str = "auto") -> Iterator[int]:
    """Be connected to Ray for the block; yield the cluster's CPU count.

    "auto" joins the cluster in RAY_ADDRESS or the one last started on this machine (`ray start`),
    else starts a local one for the block; any other address (HOST:PORT, ray://HOST:PORT) is
    joined. A process already connected (`ray.init` called by the caller) stays as it is.
    Ray's Python logging is kept to errors and the workers' output is not forwarded; the caller's
    SIGTERM handler is put back after connecting (Ray installs its own).
    """
    require_ray()
    ray = _ray()
    connected_here = not ray.is_initialized()
    if connected_here:
        _connect(ray, address)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if cpus < ACTOR_CPUS:
            raise RayError("the Ray cluster has no CPUs to run the denoiser on")
        yield cpus
    finally:
        if connected_here:
            ray.shutdown()


def actor_count(cpus: int, workers: int | None, jobs: int) -> int:
    """How many denoiser actors a batch of `jobs` files gets on a cluster of `cpus` CPUs: one per
    `ACTOR_CPUS`, at most `workers` if given, at most one per file, at least one."""
    slots = int(cpus // ACTOR_CPUS)
    return max(1, min(workers or slots, slots, jobs))


def _ray() -> Any:
    """The ray module, as Any: its annotations describe neither actor handles made by `ray.remote`
    nor the streaming generators (ObjectRefGenerator) their generator methods return."""
    import ray

    return ray


def _connect(ray: Any, address: str) -> None:
    target = os.environ.get("RAY_ADDRESS", "") if address == "auto" else address
    if target and target not in ("auto", "local"):
        _probe(target)
    main = threading.current_thread() is threading.main_thread()
    handler = signal.getsignal(signal.SIGTERM) if main else None
    try:
        ray.init(address=None if address == "auto" else address, include_dashboard=False,
                 logging_level=logging.ERROR, log_to_driver=False)
    except Exception as exc:  # ConnectionError, ValueError, RuntimeError: Ray's words say what failed
        hint = ""
        if target and "RAY_AUTH_MODE" not in os.environ:
            hint = ("; a cluster started with `ray start` (Ray 2.52 or later) expects its token: set "
                    "RAY_AUTH_MODE=token and copy the head's ~/.ray/auth_token here (or set RAY_AUTH_TOKEN)")
        raise RayError(f"cannot connect to Ray ({target or 'a local cluster'}): {' '.join(str(exc).split())}{hint}"
                       ) from None
    finally:
        if main and handler is not None:
            signal.signal(signal.SIGTERM, handler)


def _probe(address: str, timeout: float = 5.0) -> None:
    """Fail at once, naming `address`, if nothing answers there: Ray itself retries for minutes."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise RayError(f"{address!r} is not a Ray address (HOST:PORT or ray://HOST:PORT)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise RayError(f"cannot connect to Ray at {address}: {exc.strerror or exc}") from None


def node_model(model: str | Path | None, info: ModelInfo) -> str:
    """How each node finds the model: by name in its own genmedia (install paths may differ between
    nodes), or a metadata path made absolute (it must be on the shared filesystem)."""
    if model is None:
        return info.name
    text = str(model)
    if text.endswith(".json") or os.sep in text:
        return str(Path(text).absolute())
    return text


class _Worker:
    """One Ray actor: the denoiser with its ONNX Runtime session, loaded once, and `denoise_file`."""

    def __init__(self, model: str, threads: int) -> None:
        self.model, self.threads = model, threads
        self.denoiser: Denoiser | None = None

    def ready(self) -> tuple[bool, Any]:
        """Load the model: (True, {role: sha256}) for its files, or (False, why it cannot)."""
        try:
            info = get_model(self.model, task="denoise")
            self.denoiser = Denoiser(info, threads=self.threads)
        except GenmediaError as exc:
            return False, f"on {socket.gethostname()}: {exc}"
        return True, {role: entry["sha256"] for role, entry in info.files.items()}

    def run(self, job: Job, options: dict[str, Any]) -> Iterator[int | Result]:
        """Denoise one file: yield the pixels of each tile as it is done, then the `Result`."""
        denoiser = self.denoiser
        assert denoiser is not None, "ready() first"
        updates: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        outcome: list[Result | BaseException] = []

        def work() -> None:
            try:
                outcome.append(denoise_file(denoiser, job, progress=updates.put, **options))
            except BaseException as exc:  # handed to the generator, which raises it
                outcome.append(exc)
            finally:
                updates.put(None)

        thread = threading.Thread(target=work, name="genmedia-denoise", daemon=True)
        thread.start()
        while (pixels := updates.get()) is not None:
            yield pixels
        thread.join()
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        yield outcome[0]


def _as_given(result: Result, job: Job, sent: Job) -> Result:
    """`result` of `sent` (absolute paths) told with the paths of `job`, as the user gave them."""
    why = result.why.replace(str(sent.target), str(job.target)).replace(str(sent.source), str(job.source))
    return replace(result, job=job, why=why)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


def denoise_files_ray(info: ModelInfo, jobs: list[Job], *, model: str | Path | None = None,
                      workers: int | None = None, progress: Callable[[Job, int], None] | None = None,
                      **options: Any) -> Generator[Result, None, None]:
    """`denoise_files` on the connected Ray cluster (see `ray_cluster`): results in input order.

    `info` is the model as resolved here, `model` what the user named (None for the default);
    each actor resolves it on its own node and must find files with `info`'s sha256s. `workers`
    actors (default: one per CPU of the cluster, at most one per file) each hold `ACTOR_CPUS`
    CPU and one session. `progress(job, pixels)` is called here, in this thread, as the actors
    finish tiles. `options` are `denoise_file`'s. A file whose actor dies is a failed result; if
    every actor dies, the files not yet run fail too. On an exception or when the generator is
    closed (Ctrl-C), no new file is started, the running ones are waited for and the actors go.
    """
    ray = _ray()
    if not jobs:
        return
    if options.get("max_pixels") is None:  # this machine's limit, not each node's environment
        options["max_pixels"] = limits.current().image_pixels
    count = actor_count(int(ray.cluster_resources().get("CPU", 0)), workers, len(jobs))
    expected = {role: entry["sha256"] for role, entry in info.files.items()}
    actor_class = ray.remote(num_cpus=ACTOR_CPUS)(_Worker)
    threads = max(1, int(ACTOR_CPUS))
    actors = [actor_class.remote(node_model(model, info), threads) for _ in range(count)]
    sent = [Job(Path(os.path.abspath(j.source)), Path(os.path.abspath(j.target))) for j in jobs]
    waiting: dict[Any, tuple[Any, int]] = {a.ready.remote(): (a, -1) for a in actors}  # ref -> (actor, job index)
    running: dict[int, Any] = {}  # job index -> its generator, until its result is in (for _wind_down)
    done: dict[int, Result] = {}
    alive, next_job, next_out, lost = len(actors), 0, 0, ""

    def start(actor: Any) -> None:
        nonlocal next_job
        if next_job < len(jobs):
            ref = actor.run.remote(sent[next_job], options)
            waiting[ref], running[next_job] = (actor, next_job), ref
            next_job += 1

    try:
        while next_out < len(jobs):
            if not waiting:  # every actor died: what is left cannot run
                for index in range(next_job, len(jobs)):
                    done[index] = Result(jobs[index], "failed", f"not run: every Ray worker died ({lost})")
                next_job = len(jobs)
            else:
                (ref,), _ = ray.wait(list(waiting), num_returns=1)
                actor, index = waiting.pop(ref)
                try:
                    if index < 0:
                        ok, answer = ray.get(ref)
                        if not ok:
                            raise RayError(f"the Ray worker cannot load the model {answer}")
                        if answer != expected:
                            raise RayError(f"a Ray node has a different {info.name} model than this machine "
                                           "(sha256 differs); install the same genmedia on every node")
                        start(actor)
                    else:
                        item = ray.get(next(ref))
                        if isinstance(item, Result):
                            done[index] = _as_given(item, jobs[index], sent[index])
                            del running[index]
                            start(actor)  # the actor runs one call at a time: this one queues behind the end of `ref`
                        else:
                            if progress is not None:
                                progress(jobs[index], int(item))
                            waiting[ref] = (actor, index)
                except StopIteration:  # a generator that ended without a result
                    done[index] = Result(jobs[index], "failed", "the Ray worker returned no result")
                    del running[index]
                    start(actor)
                except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as exc:
                    alive -= 1
                    lost = _short(exc)
                    if index >= 0:
                        done[index] = Result(jobs[index], "failed", f"its Ray worker died ({lost})")
                        del running[index]
                    if alive == 0 and next_job == 0:
                        raise RayError(f"no Ray worker could start: {lost}") from None
                except ray.exceptions.RayTaskError as exc:  # an unexpected error inside denoise_file
                    if isinstance(exc.cause, ModelError):  # the model's failure: one line for the run, as locally
                        raise exc.cause from None
                    done[index] = Result(jobs[index], "failed", f"error on the Ray worker: {_short(exc.cause or exc)}")
                    del running[index]
                    start(actor)
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1
    finally:
        _wind_down(ray, list(running.values()), actors)


def _wind_down(ray: Any, pending: list[Any], actors: list[Any]) -> None:
    """Let the files already running (`pending`: their generators) finish, so that the actors
    publish or clean up their outputs themselves as in a local run; then end the actors."""
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                try:
                    ray.get(next(ref))
                    pending.append(ref)
                except Exception:  # StopIteration at the end, or the actor died: either way it is over
                    pass
    finally:
        for actor in actors:
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # already gone
                pass
