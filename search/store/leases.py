"""Job leases: at most one controller runs a job, and a job whose controller died is taken over.

A controller (``supernas run``/``resume``, or a server's job runner) takes the job's lease in the store
before it touches the job, and a heartbeat thread renews it every third of its length. Another
controller that asks while the lease is live is refused with one line naming the holder; once the
holder stops renewing (it was SIGKILLed, its machine went away), the lease expires and the next
controller to ask takes the job over, re-queueing the trials the dead one left running.

Expiry is judged by the clocks of the machines that take leases, which must agree to well within the
lease's length (``SUPERNAS_LEASE_S`` seconds, default 30).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from supernas.core.errors import SupernasError

DEFAULT_LEASE_S = 30.0


class LeaseHeld(SupernasError):
    """Another live controller is running the job."""


class LeaseLost(SupernasError):
    """This controller's lease passed to another controller (it stalled past its expiry): the job is
    theirs."""


def lease_seconds() -> float:
    return float(os.environ.get("SUPERNAS_LEASE_S", DEFAULT_LEASE_S))


def holder_name(role: str) -> str:
    """Who holds a lease, as a person reads it in the refusal: the command, host and process."""
    return f"{role} on {socket.gethostname()} (pid {os.getpid()})"


@dataclass
class Lease:
    job_id: int
    holder: str
    seconds: float
    lost: bool = False  # the store says another controller holds it now: stop at the next check
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)


@contextmanager
def job_lease(store, job_id: int, role: str, seconds: float | None = None) -> Iterator[Lease]:
    """Hold the job's lease for the block, renewed in the background; LeaseHeld when another holds it."""
    seconds = lease_seconds() if seconds is None else seconds
    lease = Lease(job_id, holder_name(role), seconds)
    current = store.take_lease(job_id, lease.holder, seconds)
    if current.holder != lease.holder:
        left = (current.expires_at - datetime.now(UTC)).total_seconds()
        raise LeaseHeld(
            f"job {job_id} is being run by {current.holder} "
            f"(lease renewed at {current.renewed_at:%H:%M:%S} UTC, "
            f"live for {left:.0f} s more unless renewed); "
            "stop that run first, or wait for its lease to expire"
        )
    heartbeat = threading.Thread(
        target=_renew, args=(store, lease), name=f"supernas-lease-{job_id}", daemon=True
    )
    heartbeat.start()
    try:
        yield lease
    finally:
        lease._stop.set()
        heartbeat.join()
        store.release_lease(job_id, lease.holder)


def _renew(store, lease: Lease) -> None:
    while not lease._stop.wait(lease.seconds / 3):
        try:
            if not store.renew_lease(lease.job_id, lease.holder, lease.seconds):
                lease.lost = True
                return
        except Exception:  # the database is unreachable for a moment: try again at the next beat
            continue
