"""Connecting to Ray: a local instance by default, or an existing cluster by address."""

from __future__ import annotations

import logging
import os
import socket

from supernas.core.errors import SupernasError


class ClusterError(SupernasError):
    """Ray could not be started or reached."""


def connect(address: str | None = None, workers: int = 1) -> None:
    """Start local Ray sized for ``workers`` actors, or join the cluster at ``address`` ("auto" or
    host:port)."""
    import ray

    if ray.is_initialized():
        return
    if address and address != "auto":
        _check_reachable(address)
    options = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    try:
        if address:
            ray.init(address=address, **options)
        else:
            # "local": a new instance of our own, never a cluster someone started on this machine
            # (`ray start`), which Ray would otherwise join and then refuse num_cpus for
            ray.init(address="local", num_cpus=max(workers, os.cpu_count() or 1), **options)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = f"the Ray cluster at '{address}'" if address else "a local Ray instance"
        raise ClusterError(f"could not connect to {where}: {' '.join(str(e).split())[:200]}") from None


def _check_reachable(address: str) -> None:
    """Fail fast: Ray itself retries an unreachable head for minutes before it gives up."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"Ray address '{address}' is not 'auto' or host:port")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise ClusterError(
            f"could not connect to the Ray cluster at '{address}': {e.strerror or e}"
        ) from None


def disconnect() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()
