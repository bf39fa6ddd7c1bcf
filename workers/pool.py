"""A pool of evaluator actors kept busy by the controller (Ray's actor-pool pattern).

Each actor holds one supernet and evaluates one candidate at a time, so a dead worker loses at most
one trial. Faults are left to Ray where its guarantees are the ones a job needs:

- a dead actor is restarted by Ray itself (``max_restarts``); the pool only learns the new process's
  name, without blocking the other workers while the restarted one builds its supernet;
- a trial is *not* retried by Ray (``max_task_retries=0``): Ray would re-run it on the restarted actor,
  credited in the store to the process that died, and would re-run blindly an architecture that kills
  its worker every time. The outcome says ``worker_lost`` instead and the controller re-queues the
  trial for whichever worker is free next.

An exception inside a metric is an ordinary failed trial. A new pool waits for its workers to start,
but on a busy shared cluster only for a while: it then starts with those that are up, and the others
join as the cluster frees CPUs for them.
"""

from __future__ import annotations

import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

from supernas.core.errors import SupernasError
from supernas.workers.evaluator import Evaluator

RESTARTS_PER_WORKER = 3
RECHECK_S = 0.5  # how often a restarting actor is asked whether it is up
START_GRACE_S = 60.0  # how long a new pool waits for all its workers before it starts with those that are up


class WorkersFailing(SupernasError):
    """Workers die faster than they do work: something is wrong with the job's setup."""


class EvaluationFailed(SupernasError):
    """An architecture scored outside a trial could not be scored."""


@dataclass(frozen=True)
class Outcome:
    key: str  # what the caller submitted it under (the controller: its arch_id)
    worker: str
    values: dict[str, float] | None = None
    error: str | None = None
    worker_lost: bool = False


class EvaluatorPool:
    """``size`` evaluator actors, each taking ``num_cpus`` CPUs (a fraction when a server runs more
    jobs at once than the cluster has CPUs, so every job keeps a worker)."""

    def __init__(
        self, size: int, evaluator_args: dict, num_cpus: float = 1.0, restarts: int = RESTARTS_PER_WORKER
    ) -> None:
        import ray

        self._ray = ray
        actor_class = ray.remote(num_cpus=num_cpus, max_restarts=restarts, max_task_retries=0)(Evaluator)
        environment = plugin_runtime_env(evaluator_args.get("plugins", ()))
        if environment:
            actor_class = actor_class.options(runtime_env=environment)
        self.actors = [actor_class.remote(**evaluator_args) for _ in range(size)]
        self._names: list[str | None] = [None] * size
        self._idle: list[int] = []
        self._inflight: dict = {}  # evaluation ObjectRef -> (slot, key)
        self._starting: dict = {}  # where() ObjectRef -> slot, for actors starting or restarting
        self._recheck: dict[int, float] = {}  # slot -> when to ask a restarting actor again
        self._dead: set[int] = set()
        for slot, actor in enumerate(self.actors):
            self._starting[actor.where.remote()] = slot
        up, _ = ray.wait(list(self._starting), num_returns=size, timeout=START_GRACE_S)
        for ref in up:
            self._started(ref)
        while not self._idle:  # on a busy cluster: usable once one worker is up, the others join later
            self._poll_starting(self._ask_restarted(None))

    @property
    def size(self) -> int:
        return len(self.actors)

    def free_slots(self) -> int:
        return len(self._idle)

    def starting(self) -> int:
        """Workers not up yet (first start or a restart after a crash): more capacity is coming."""
        return len(self._starting) + len(self._recheck)

    def submit(self, key: str, arch_json: str) -> str:
        """Start evaluating on an idle actor; returns the worker's name."""
        slot = self._idle.pop(0)
        ref = self.actors[slot].evaluate_signed.remote(arch_json)
        self._inflight[ref] = (slot, key)
        return self._names[slot]

    def evaluate_now(self, arch_json: str) -> dict[str, float]:
        """Score one architecture on a free worker and wait for it: not a trial (the job's hypervolume
        reference is fixed from such anchors). A metric's error is an EvaluationFailed naming it."""
        from ray.exceptions import RayActorError, RayTaskError

        slot = self._idle[0]
        try:
            return self._ray.get(self.actors[slot].evaluate.remote(arch_json))
        except RayTaskError as e:
            cause = e.cause if getattr(e, "cause", None) is not None else e
            raise EvaluationFailed(f"{type(cause).__name__}: {cause}"[:500]) from None
        except RayActorError:
            self._idle.remove(slot)
            self._recheck[slot] = time.monotonic()
            raise EvaluationFailed("the worker died evaluating it") from None

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        """Outcomes of every evaluation that finished within ``timeout`` seconds (at least one if any);
        workers that came up meanwhile become free slots."""
        timeout = self._ask_restarted(timeout)
        if not self._inflight:
            self._poll_starting(timeout)
            return []
        refs = [*self._inflight, *self._starting]
        done, _ = self._ray.wait(refs, num_returns=1, timeout=timeout)
        if done:  # collect everything else that is already finished too
            done, _ = self._ray.wait(refs, num_returns=len(refs), timeout=0)
        outcomes = []
        for ref in done:
            if ref in self._starting:
                self._started(ref)
            else:
                outcomes.append(self._collect(ref))
        return outcomes

    def _ask_restarted(self, timeout: float | None) -> float | None:
        """Ask the restarting actors that are due where they are; the wait's timeout, cut short to the
        next one due."""
        now = time.monotonic()
        for slot in [slot for slot, due in self._recheck.items() if due <= now]:
            del self._recheck[slot]
            self._starting[self.actors[slot].where.remote()] = slot
        if not self._recheck:
            return timeout
        until = max(0.0, min(self._recheck.values()) - now)
        return until if timeout is None else min(timeout, until)

    def _poll_starting(self, timeout: float | None) -> None:
        if not self._starting:
            time.sleep(timeout or 0.0)  # only restarting actors, asked again once due
            return
        done, _ = self._ray.wait(list(self._starting), num_returns=1, timeout=timeout)
        for ref in done:
            self._started(ref)

    def _started(self, ref) -> None:
        """A worker answered where() after starting or restarting, or is dead for good."""
        from ray.exceptions import ActorUnavailableError, RayActorError

        slot = self._starting.pop(ref)
        try:
            self._names[slot] = self._ray.get(ref)
        except ActorUnavailableError:  # Ray is restarting it: ask again in a moment
            self._recheck[slot] = time.monotonic() + RECHECK_S
            return
        except RayActorError:  # out of restarts, or its constructor fails
            self._dead.add(slot)
            if len(self._dead) == len(self.actors):
                raise WorkersFailing("evaluator workers keep dying; see the Ray logs for the cause") from None
            return
        self._idle.append(slot)

    def _collect(self, ref) -> Outcome:
        from ray.exceptions import RayActorError, RayTaskError

        slot, key = self._inflight.pop(ref)
        name = self._names[slot]
        try:
            name, values = self._ray.get(ref)
        except RayActorError:  # Ray restarts the actor; it is a free slot again once it answers
            self._recheck[slot] = time.monotonic()
            return Outcome(key, name, error="worker died during evaluation", worker_lost=True)
        except RayTaskError as e:
            self._idle.append(slot)
            cause = e.cause if getattr(e, "cause", None) is not None else e
            return Outcome(key, name, error=f"{type(cause).__name__}: {cause}"[:2000])
        self._names[slot] = name  # a restarted actor may have run it before the pool learnt its new name
        self._idle.append(slot)
        return Outcome(key, name, values=values)

    def shutdown(self) -> None:
        for actor in self.actors:
            self._ray.kill(actor, no_restart=True)
        self.actors, self._idle, self._inflight, self._starting = [], [], {}, {}


def plugin_runtime_env(plugins) -> dict:
    """Ray's runtime environment carrying a job's plugins to every worker, on any node: plugin files,
    and named modules that are not installed packages (an installed one is installed on each node
    like supernas itself, or declared as an entry point)."""
    from supernas.predictors.plugins import is_file_plugin, load_plugins

    installed = {Path(sysconfig.get_paths()[key]).resolve() for key in ("purelib", "platlib")}
    shipped: list = []
    for plugin in plugins:
        if is_file_plugin(plugin):
            shipped.append(plugin)  # importable by its stem on the workers, as the evaluator imports it
            continue
        load_plugins([plugin])
        package = sys.modules[plugin.split(".")[0]]  # Ray ships a single-file module or a package's folder
        if not any(Path(package.__file__).resolve().is_relative_to(root) for root in installed):
            shipped.append(package)
    return {"py_modules": _uploaded(shipped)} if shipped else {}


def _uploaded(modules: list) -> list[str]:
    """The cluster's URIs of ``modules`` (paths or module objects), uploaded now if the cluster lacks them.

    An actor's runtime environment takes only URIs; Ray uploads local modules itself only for the
    job-level one given to ``ray.init``, which a server running several jobs cannot change per job. So
    the pool uploads them the way ``ray.init`` does (content-addressed: an unchanged file is sent once).
    """
    import inspect
    import tempfile

    from ray._private.runtime_env.py_modules import upload_py_modules_if_needed

    options = {"scratch_dir": tempfile.gettempdir()}
    if "include_gitignore" in inspect.signature(upload_py_modules_if_needed).parameters:
        options["include_gitignore"] = False
    return upload_py_modules_if_needed({"py_modules": modules}, **options)["py_modules"]
