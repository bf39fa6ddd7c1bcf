"""The server's job runner: one thread that runs submitted jobs one at a time, oldest first.

The store is the queue (a job waits as ``queued``), so a restarted server finds its work where it was
left: jobs still ``queued``, and jobs left ``running`` by a server that died, which go back in the
queue (the controller re-queues their orphaned trials when it resumes them). A graceful shutdown stops the running job and puts it back to ``queued`` for the next start; a cancel
leaves it ``stopped``. Ray is started on the first job (one search needs seconds to start it, a
server that only shows results never needs it).
"""

from __future__ import annotations

import logging
import threading

from supernas.search.runner import execute, stored_spec
from supernas.search.store import Store
from supernas.workers.cluster import connect, disconnect

log = logging.getLogger("supernas.dashboard")


class JobRunner:
    def __init__(self, store: Store, workers: int | None = None) -> None:
        self._store, self._workers = store, workers
        self._lock = threading.Lock()  # guards the fields below and every status change the runner makes
        self._wake = threading.Event()
        self._closing = False
        self._current: int | None = None
        self._cancelled = False  # the current job was cancelled (rather than interrupted by shutdown)
        self._owns_ray = False
        self._thread = threading.Thread(target=self._loop, name="supernas-job-runner", daemon=True)

    def start(self) -> None:
        """Queue again the jobs a previous server left running, then start taking jobs."""
        for job in self._store.list_jobs():
            if job.status == "running":
                self._store.set_job_status(job.id, "queued")
        self._thread.start()

    def notify(self) -> None:
        """A job was queued."""
        self._wake.set()

    def cancel(self, job_id: int) -> bool:
        """Stop a job of this runner: the running one at the controller's next check, a waiting one
        at once. False when the job is neither (finished, or run by another process)."""
        with self._lock:
            if job_id == self._current:
                self._cancelled = True
                return True
            if self._store.get_job(job_id).status == "queued":
                self._store.set_job_status(job_id, "stopped")
                return True
            return False

    def resume(self, job_id: int) -> bool:
        """Queue a stopped or failed job again; False for any other (or one still winding down here)."""
        with self._lock:
            if job_id == self._current or self._store.get_job(job_id).status not in ("stopped", "failed"):
                return False
            self._store.set_job_status(job_id, "queued")
        self._wake.set()
        return True

    def close(self, timeout: float = 120.0) -> None:
        """Stop the running job (it goes back to the queue), end the thread, and stop Ray if it was ours."""
        with self._lock:
            self._closing = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._owns_ray:
            disconnect()

    def _should_stop(self) -> bool:
        return self._closing or self._cancelled

    def _take(self) -> int | None:
        """The next job to run, marked as current; None when there is none or the runner is closing."""
        with self._lock:
            if self._closing:
                return None
            queued = [job.id for job in self._store.list_jobs() if job.status == "queued"]
            if not queued:
                return None
            self._current, self._cancelled = queued[0], False
            return self._current

    def _loop(self) -> None:
        while not self._closing:
            self._wake.clear()
            job_id = self._take()
            if job_id is None:
                self._wake.wait()
                continue
            try:
                self._run(job_id)
            finally:
                self._settle(job_id)

    def _settle(self, job_id: int) -> None:
        """After a run: a cancel stopped it (even one that came before the controller started); a
        shutdown's stop puts it back in the queue."""
        with self._lock:
            status = self._store.get_job(job_id).status
            if self._cancelled and status == "queued":
                self._store.set_job_status(job_id, "stopped")
            elif self._closing and not self._cancelled and status == "stopped":
                self._store.set_job_status(job_id, "queued")
            self._current = None

    def _run(self, job_id: int) -> None:
        """Run the job to its budget or until stopped; a failure is recorded on the job, never raised."""
        try:
            spec = stored_spec(self._store, job_id)
            workers = self._workers or spec.workers
            self._ensure_ray(workers)
            if self._should_stop():  # cancelled or closing while Ray started
                return
            execute(self._store, job_id, spec, workers, None, progress=False, should_stop=self._should_stop)
        except Exception as e:  # the job failed, the server goes on
            log.exception("job %s failed", job_id)
            if self._store.get_job(job_id).status != "failed":  # the controller records its own failures
                self._store.set_job_status(job_id, "failed", error=f"{type(e).__name__}: {e}"[:2000])

    def _ensure_ray(self, workers: int) -> None:
        """Start local Ray for the first job; restart it (if this runner started it) for a job that
        needs more CPUs than it was started with, since actors beyond them would wait forever."""
        import ray

        if self._owns_ray and ray.is_initialized() and ray.cluster_resources().get("CPU", 0) < workers:
            disconnect()
        if not ray.is_initialized():
            connect(None, workers)
            self._owns_ray = True
