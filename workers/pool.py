"""A pool of evaluator actors kept busy by the controller (Ray's actor-pool pattern).

Each actor holds one supernet and evaluates one candidate at a time, so a dead worker loses at most
one trial: its outcome says ``worker_lost`` and the controller re-queues that trial; the pool replaces
the actor. An exception inside a metric is an ordinary failed trial.
"""

from __future__ import annotations

from dataclasses import dataclass

from supernas.spaces.errors import SupernasError

from .evaluator import Evaluator


class WorkersFailing(SupernasError):
    """Workers die faster than they do work: something is wrong with the job's setup."""


@dataclass(frozen=True)
class Outcome:
    key: int
    worker: str
    values: dict[str, float] | None = None
    error: str | None = None
    worker_lost: bool = False


class EvaluatorPool:
    def __init__(self, size: int, evaluator_args: dict, max_replacements: int | None = None) -> None:
        import ray

        self._ray = ray
        self._actor_class = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(Evaluator)
        self._args = evaluator_args
        self._replacements_left = 3 * size if max_replacements is None else max_replacements
        self.actors = [self._actor_class.remote(**evaluator_args) for _ in range(size)]
        self._names = ray.get([a.where.remote() for a in self.actors])
        self._idle = list(range(size))
        self._inflight: dict = {}  # ObjectRef -> (slot, key)

    @property
    def size(self) -> int:
        return len(self.actors)

    def free_slots(self) -> int:
        return len(self._idle)

    def busy(self) -> int:
        return len(self._inflight)

    def submit(self, key: int, arch_json: str) -> str:
        """Start evaluating on an idle actor; returns the worker's name."""
        slot = self._idle.pop(0)
        ref = self.actors[slot].evaluate.remote(arch_json)
        self._inflight[ref] = (slot, key)
        return self._names[slot]

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        """Outcomes of every evaluation that finished within ``timeout`` seconds (at least one if any)."""
        if not self._inflight:
            return []
        done, _ = self._ray.wait(list(self._inflight), num_returns=1, timeout=timeout)
        if done:  # collect everything else that is already finished too
            done, _ = self._ray.wait(list(self._inflight), num_returns=len(self._inflight), timeout=0)
        return [self._collect(ref) for ref in done]

    def _collect(self, ref) -> Outcome:
        from ray.exceptions import RayActorError, RayTaskError

        slot, key = self._inflight.pop(ref)
        name = self._names[slot]
        try:
            values = self._ray.get(ref)
        except RayActorError:
            self._replace(slot)
            return Outcome(key, name, error="worker died during evaluation", worker_lost=True)
        except RayTaskError as e:
            self._idle.append(slot)
            cause = e.cause if getattr(e, "cause", None) is not None else e
            return Outcome(key, name, error=f"{type(cause).__name__}: {cause}"[:2000])
        self._idle.append(slot)
        return Outcome(key, name, values=values)

    def _replace(self, slot: int) -> None:
        if self._replacements_left <= 0:
            raise WorkersFailing("evaluator workers keep dying; see the Ray logs for the cause")
        self._replacements_left -= 1
        self._ray.kill(self.actors[slot], no_restart=True)
        self.actors[slot] = self._actor_class.remote(**self._args)
        self._names[slot] = self._ray.get(self.actors[slot].where.remote())
        self._idle.append(slot)

    def kill_worker(self, slot: int) -> None:
        """Kill one actor's process abruptly (fault-injection for tests and drills)."""
        self._ray.kill(self.actors[slot], no_restart=True)

    def shutdown(self) -> None:
        for actor in self.actors:
            self._ray.kill(actor, no_restart=True)
        self.actors, self._idle, self._inflight = [], [], {}
