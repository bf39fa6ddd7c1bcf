"""The server's job runner: runs up to ``max_jobs`` submitted jobs at once on one Ray cluster, oldest first.

The store is the queue (a job waits as ``queued``), so a restarted server finds its work where it was
left: jobs still ``queued``, and jobs left ``running`` whose controller is gone, which it takes over once
their lease (``search.leases``) has expired; a job that a live controller runs (a ``supernas run`` on the
same cluster, another server) is left to it. A graceful shutdown stops the running jobs and puts them
back to ``queued`` for the next start; a cancel leaves a job ``stopped``.

Sharing the cluster: each job gets ``min(its workers, CPUs / max_jobs)`` evaluator actors, at least one;
with more jobs than CPUs each actor takes a fraction of a CPU, so every running job keeps a worker and
none waits for another to finish. Ray is started when a job is taken (a server that only shows results
never needs it) and stopped when none runs, or joined at ``ray_address``.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from supernas.search.jobspec import JobSpec
from supernas.search.runner import execute, stored_spec
from supernas.search.store.store import Store
from supernas.workers.cluster import connect, disconnect

log = logging.getLogger("supernas.dashboard")

ROLE = "supernas serve"
TAKEOVER_CHECK_S = 5.0  # how often the runner looks for running jobs whose controller's lease expired


@dataclass
class _Run:
    job_id: int
    cancelled: bool = False  # cancelled (rather than interrupted by shutdown)
    thread: threading.Thread | None = field(default=None, repr=False)


class JobRunner:
    def __init__(
        self, store: Store, workers: int | None = None, max_jobs: int = 1, ray_address: str | None = None
    ) -> None:
        self._store, self._workers, self._max_jobs, self._ray_address = store, workers, max_jobs, ray_address
        self._lock = threading.Lock()  # guards the fields below and every status change the runner makes
        self._wake = threading.Event()
        self._closing = False
        self._close_timeout = 120.0  # how long closing waits for each running job to stop
        self._runs: dict[int, _Run] = {}
        self._owns_ray = False
        self._thread = threading.Thread(target=self._loop, name="supernas-job-runner", daemon=True)

    def start(self) -> None:
        """Start taking jobs (queued ones, and running ones whose controller's lease has expired)."""
        self._thread.start()

    def notify(self) -> None:
        """A job was queued."""
        self._wake.set()

    def running(self) -> list[int]:
        with self._lock:
            return sorted(self._runs)

    def cancel(self, job_id: int) -> bool:
        """Stop a job of this runner: a running one at its controller's next check, a waiting one at
        once. False when the job is neither (finished, or run by another process)."""
        with self._lock:
            if job_id in self._runs:
                self._runs[job_id].cancelled = True
                return True
            if self._store.get_job(job_id).status == "queued":
                self._store.set_job_status(job_id, "stopped")
                return True
            return False

    def resume(self, job_id: int) -> bool:
        """Queue a stopped or failed job again; False for any other (or one still winding down here)."""
        with self._lock:
            if job_id in self._runs or self._store.get_job(job_id).status not in ("stopped", "failed"):
                return False
            self._store.set_job_status(job_id, "queued")
        self._wake.set()
        return True

    def close(self, timeout: float = 120.0) -> None:
        """Stop the running jobs (they go back to the queue), end the threads, and stop Ray if it was ours."""
        with self._lock:
            self._closing, self._close_timeout = True, timeout
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()

    # ------------------------------------------------------------------------------------ scheduling

    def _loop(self) -> None:
        try:
            self._schedule()
        finally:
            self._wind_down()

    def _wind_down(self) -> None:
        """Wait for the running jobs to stop, then stop Ray here, in the thread that started it: called
        from any other thread, ``ray.shutdown()`` took 15 s instead of 1.4 s (measured)."""
        with self._lock:
            threads = [run.thread for run in self._runs.values() if run.thread]
        for thread in threads:
            thread.join(self._close_timeout)
        if self._owns_ray:
            disconnect()

    def _schedule(self) -> None:
        while not self._closing:
            self._wake.clear()
            for job_id in self._take():
                try:
                    prepared = self._prepare(job_id)
                except Exception as e:  # recorded on the job by its thread, which ends at once
                    prepared = e
                thread = threading.Thread(
                    target=self._run_and_settle,
                    args=(job_id, prepared),
                    name=f"supernas-job-{job_id}",
                    daemon=True,
                )
                self._runs[job_id].thread = thread
                thread.start()
            self._release_idle_ray()
            self._wake.wait(TAKEOVER_CHECK_S)

    def _release_idle_ray(self) -> None:
        """Stop the local Ray this runner started once no job runs (its processes hold memory and CPU
        that a server showing results does not need); the next job starts it again."""
        with self._lock:  # only this thread adds runs, so none can start before Ray is stopped
            idle = self._owns_ray and not self._runs
        if idle:
            disconnect()
            self._owns_ray = False

    def _prepare(self, job_id: int) -> tuple[JobSpec, int, float]:
        """The job's spec, its number of workers and the CPUs each takes, with Ray running. Called on
        this long-lived thread: Ray's local processes die with the thread that started them."""
        spec = stored_spec(self._store, job_id)
        wanted = self._workers or spec.workers
        share = self._ensure_ray(wanted) / self._max_jobs
        return spec, max(1, min(wanted, math.floor(share))), min(1.0, share)

    def _take(self) -> list[int]:
        """The next jobs to run, up to the free places, registered as running here: queued jobs oldest
        first, then running jobs nobody holds a live lease on (their controller died)."""
        with self._lock:
            free = self._max_jobs - len(self._runs)
            if self._closing or free <= 0:
                return []
            jobs = self._store.list_jobs()
            leases, now = self._store.leases(), datetime.now(UTC)
            orphaned = [
                j.id
                for j in jobs
                if j.status == "running" and (j.id not in leases or leases[j.id].expires_at <= now)
            ]
            queued = [j.id for j in jobs if j.status == "queued"]
            taken = [job_id for job_id in [*queued, *orphaned] if job_id not in self._runs][:free]
            for job_id in taken:
                self._runs[job_id] = _Run(job_id)
            return taken

    def _run_and_settle(self, job_id: int, prepared: tuple | Exception) -> None:
        try:
            self._run(job_id, prepared)
        finally:
            self._settle(job_id)
            self._wake.set()  # a place is free

    def _settle(self, job_id: int) -> None:
        """After a run: a cancel stopped it (even one that came before the controller started); a
        shutdown's stop puts it back in the queue."""
        with self._lock:
            run = self._runs.pop(job_id)
            status = self._store.get_job(job_id).status
            if run.cancelled and status == "queued":
                self._store.set_job_status(job_id, "stopped")
            elif self._closing and not run.cancelled and status == "stopped":
                self._store.set_job_status(job_id, "queued")

    def _run(self, job_id: int, prepared: tuple | Exception) -> None:
        """Run the job to its budget or until stopped; a failure is recorded on the job, never raised."""
        from supernas.search.store.leases import LeaseHeld, LeaseLost

        run = self._runs[job_id]
        should_stop = lambda: self._closing or run.cancelled  # noqa: E731
        try:
            if isinstance(prepared, Exception):
                raise prepared
            spec, workers, cpus_each = prepared
            if should_stop():  # cancelled or closing while Ray started
                return
            execute(
                self._store,
                job_id,
                spec,
                workers,
                self._ray_address,
                progress=False,
                should_stop=should_stop,
                role=ROLE,
                num_cpus=cpus_each,
            )
        except (
            LeaseHeld,
            LeaseLost,
        ) as e:  # another controller started it, or took it over: it is that one's job now
            log.info("job %s: %s", job_id, e)
        except Exception as e:  # the job failed, the server goes on
            log.exception("job %s failed", job_id)
            if self._store.get_job(job_id).status != "failed":  # the controller records its own failures
                self._store.set_job_status(job_id, "failed", error=f"{type(e).__name__}: {e}"[:2000])

    def _ensure_ray(self, workers: int) -> float:
        """The cluster's CPUs, starting local Ray on the first job if no address was given. A local
        instance this runner started is restarted for a job wanting more CPUs than it has, when it runs
        nothing else (actors beyond the CPUs would otherwise wait forever)."""
        import ray

        with self._lock:
            if (
                self._owns_ray
                and ray.is_initialized()
                and ray.cluster_resources().get("CPU", 0) < workers
                and len(self._runs) == 1
            ):
                disconnect()
            if not ray.is_initialized():
                connect(self._ray_address, workers)
                self._owns_ray = self._ray_address is None
            return float(ray.cluster_resources().get("CPU", 1.0))
