"""Helpers for tests that start real processes: free loopback ports, busy neighbours, and cleaning up
after a driver that was killed before it could stop the local Ray it started."""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_processes_of(driver_pid: int) -> list[int]:
    """The processes of the local Ray instance a driver started: their command lines name its session."""
    marker = f"_{driver_pid}/"
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = open(f"/proc/{entry}/cmdline", "rb").read().decode(errors="replace")
            except OSError:
                continue
            if "session_" in cmdline and marker in cmdline:
                found.append(int(entry))
    return found


def kill_ray_session_of(driver_pid: int) -> None:
    """Kill the processes of the local Ray instance a (dead) driver started."""
    for pid in ray_processes_of(driver_pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _spin() -> None:
    while True:
        pass


@contextmanager
def busy_cores(n: int) -> Iterator[None]:
    """A busy loop on ``n`` cores while the block runs (as ``stress --cpu n`` does; none for 0)."""
    hogs = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(n)]
    for hog in hogs:
        hog.start()
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.join()
