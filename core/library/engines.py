"""Engines: how the one tagging job (:func:`core.library.job.tag_file`) is scheduled.

- :class:`SerialEngine` runs it in this process (``--jobs 1``).
- :class:`ProcessEngine` runs it in N local worker processes (``--jobs N``), each loading the
  model set once (pool initializer) with its share of the cores.
- :class:`RayEngine` runs it in Ray actors (``--engine ray``), on this machine or a cluster
  (``--address``), each actor loading the model set once.

Engines take paths, never audio, and yield result rows in completion order; only the caller
(the driver) writes to the database. At most a few tasks per worker are in flight, so a
library of millions of songs never sits in memory as futures, and an interrupted run loses
only those.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Protocol

from core.errors import GenreLabError, LibraryError
from core.library.job import TagSpec, TagTask, check_worker, init_worker, run_task

__all__ = ["ENGINES", "Engine", "ProcessEngine", "RayEngine", "SerialEngine", "make_engine"]

ENGINES = ("local", "ray")
ROOT = Path(__file__).resolve().parents[2]


class Engine(Protocol):
    """What the tagger needs of an engine."""

    name: str
    workers: int

    def start(self) -> None:
        """Start the workers and load the models (raises ModelError if they do not load)."""

    def run(self, tasks: Iterable[TagTask]) -> Iterator[dict[str, Any]]:
        """Tag every task; yield result rows as they complete."""

    def close(self) -> None:
        """Stop the workers (pending tasks are dropped)."""


def _failure_row(task: TagTask, reason: str, message: str) -> dict[str, Any]:
    return {"content_hash": task.content_hash, "path": task.path, "error_reason": reason,
            "error": message, "seconds": 0.0}


class SerialEngine:
    """Tag in this process, one song after another (the models use every core)."""

    name = "local"

    def __init__(self, spec: TagSpec) -> None:
        self.spec = spec
        self.workers = 1

    def start(self) -> None:
        init_worker(self.spec)
        check_worker()

    def run(self, tasks: Iterable[TagTask]) -> Iterator[dict[str, Any]]:
        for task in tasks:
            yield run_task(task)

    def close(self) -> None:
        pass


def _pool_context() -> multiprocessing.context.BaseContext:
    """Workers start from a clean interpreter (never a fork of one running TensorFlow or
    OpenMP threads, which can deadlock or abort the child)."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


class ProcessEngine:
    """Tag in ``jobs`` local worker processes, each with ``cores // jobs`` threads."""

    name = "local"

    def __init__(self, spec: TagSpec, jobs: int, *, in_flight_per_worker: int = 2) -> None:
        self.spec = spec
        self.workers = jobs
        self.in_flight = max(1, in_flight_per_worker) * jobs
        self.threads = max(1, (os.cpu_count() or 1) // jobs)
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=_pool_context(),
                                         initializer=init_worker,
                                         initargs=(self.spec, self.threads))
        # Every worker loads the models now (not on its first song), so a bad model set stops
        # the run before any song is tried and throughput is measured on warm workers.
        probes = [self._pool.submit(check_worker) for _ in range(self.workers)]
        for probe in probes:
            probe.result()

    def run(self, tasks: Iterable[TagTask]) -> Iterator[dict[str, Any]]:
        if self._pool is None:
            self.start()
        assert self._pool is not None
        todo = iter(tasks)
        running: dict[Future[dict[str, Any]], TagTask] = {}

        def refill() -> None:
            while len(running) < self.in_flight:
                task = next(todo, None)
                if task is None:
                    return
                running[self._pool.submit(run_task, task)] = task  # type: ignore[union-attr]

        refill()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                task = running.pop(future)
                try:
                    yield future.result()
                except GenreLabError:
                    raise
                except Exception as exc:  # a worker died (out of memory, a native crash)
                    raise LibraryError(f"a worker process stopped while tagging {task.path} "
                                       f"({type(exc).__name__}: {exc}); run again to resume"
                                       ) from None
            refill()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class _TagActor:
    """A Ray actor holding one loaded model set."""

    def __init__(self, spec: TagSpec, threads: int) -> None:
        self.name = init_worker(spec, threads)

    def ready(self) -> str:
        return check_worker()

    def tag(self, task: TagTask) -> dict[str, Any]:
        return run_task(task)


class RayEngine:
    """Tag in Ray actors: one per CPU of the cluster (or ``jobs``), one core each.

    Parameters
    ----------
    spec : TagSpec
    address : str or None
        A running cluster (``ray://head:10001``, ``auto``, ``head:6379``); None starts Ray on
        this machine (with ``jobs`` CPUs when given).
    jobs : int or None
        Number of actors (None: the cluster's CPUs).

    Every node needs this GenreLab checkout and its Python environment at the same path, and
    must read the songs at the paths the driver walked (shared storage).
    """

    name = "ray"

    def __init__(self, spec: TagSpec, *, address: str | None = None, jobs: int | None = None,
                 in_flight_per_worker: int = 2) -> None:
        self.spec = spec
        self.address = address
        self.jobs = jobs
        self.per_actor = max(1, in_flight_per_worker)
        self.workers = 0
        self._actors: list[Any] = []
        self._started_ray = False

    def start(self) -> None:
        try:
            import ray
        except ImportError:
            raise LibraryError("--engine ray needs Ray: pip install ray (see requirements.txt)"
                               ) from None
        # Workers import GenreLab from this checkout (the same path on every node).
        env = {"PYTHONPATH": os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
            "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                      "logging_level": logging.ERROR}
            if self.address:
                kwargs["address"] = self.address
            elif self.jobs:
                kwargs["num_cpus"] = self.jobs
            try:
                ray.init(**kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise LibraryError(f"cannot start or reach Ray"
                                   f"{' at ' + self.address if self.address else ''}: {exc}"
                                   ) from None
            self._started_ray = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = max(1, self.jobs or cpus)
        actor = ray.remote(num_cpus=1, max_restarts=2, max_task_retries=2)(_TagActor).options(
            runtime_env={"env_vars": env})
        self._actors = [actor.remote(self.spec, 1) for _ in range(self.workers)]
        try:
            ray.get([a.ready.remote() for a in self._actors])
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, GenreLabError):
                raise cause from None
            raise LibraryError(f"Ray workers failed to start: {cause or exc}") from None

    def run(self, tasks: Iterable[TagTask]) -> Iterator[dict[str, Any]]:
        import ray

        if not self._actors:
            self.start()
        todo = iter(tasks)
        running: dict[Any, tuple[int, TagTask]] = {}

        def submit(actor_index: int) -> None:
            task = next(todo, None)
            if task is not None:
                running[self._actors[actor_index].tag.remote(task)] = (actor_index, task)

        for _ in range(self.per_actor):
            for index in range(len(self._actors)):
                submit(index)
        while running:
            done, _ = ray.wait(list(running), num_returns=1)
            ref = done[0]
            index, task = running.pop(ref)
            try:
                row = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:
                cause = getattr(exc, "cause", None) or exc
                if isinstance(cause, GenreLabError):
                    raise cause from None
                row = _failure_row(task, "internal", f"{type(cause).__name__}: {cause}")
            except ray.exceptions.RayActorError as exc:  # died after its retries
                row = _failure_row(task, "worker-died", f"the Ray worker died: {exc}")
            submit(index)
            yield row

    def close(self) -> None:
        try:
            import ray
        except ImportError:
            return
        for actor in self._actors:
            ray.kill(actor)
        self._actors = []
        if self._started_ray and ray.is_initialized():
            ray.shutdown()
        self._started_ray = False


def make_engine(spec: TagSpec, *, engine: str = "local", jobs: int | None = None,
                address: str | None = None) -> Engine:
    """The engine for the command line's ``--engine``, ``--jobs`` and ``--address``.

    ``jobs``: local worker processes (None or 1: this process; 0: one per core) or Ray actors
    (None or 0: one per cluster CPU).
    """
    if engine not in ENGINES:
        raise LibraryError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if address and engine != "ray":
        raise LibraryError("--address is for --engine ray")
    if engine == "ray":
        return RayEngine(spec, address=address, jobs=jobs or None)
    jobs = 1 if jobs is None else (jobs or os.cpu_count() or 1)
    return SerialEngine(spec) if jobs == 1 else ProcessEngine(spec, jobs)
