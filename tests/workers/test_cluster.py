"""A job on a multi-node Ray cluster (ray.cluster_utils.Cluster: real raylets, one per node)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from supernas.search.jobspec import load_job_spec
from supernas.search.runner import create_job, execute
from supernas.search.store.store import open_store
from supernas.workers.cluster import ClusterError, connect, disconnect
from tests.barrier import PLUGIN, Gate, on_two_workers, wait_until
from tests.predictors.plugin_helpers import expected, write_plugin
from tests.processes import free_port, ray_processes_of
from tests.search.jobs_helpers import assert_consistent, write_job


@pytest.fixture
def two_node_cluster():
    from ray.cluster_utils import Cluster

    disconnect()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    disconnect()
    cluster.shutdown()


@pytest.mark.timing
def test_job_spreads_over_two_nodes(two_node_cluster, tmp_path):
    """With a user's metric from a plugin file, which Ray's runtime environment carries to both nodes.
    The trials wait at a gate (a constraint no trial breaks) until both nodes' workers hold one, so both
    do work however late one of them starts."""
    write_plugin(tmp_path, "cluster_metrics", metric="cluster_score")
    gate = Gate(tmp_path / "gate")
    job_file = write_job(
        tmp_path,
        budget={"trials": 10},
        plugins=["cluster_metrics.py", str(PLUGIN)],
        objectives=[{"metric": "cluster_score"}, {"metric": "flops"}],
        constraints=[{"metric": "flops", "max": 3.0e6}, gate.constraint()],
        reference=[0.0, 3.0e6],
    )
    spec = load_job_spec(job_file)
    store = open_store(f"sqlite:///{tmp_path / 'cluster.db'}")
    job_id = create_job(store, spec)
    address = two_node_cluster.address
    job = lambda: execute(store, job_id, spec, workers=2, ray_address=address, progress=False)  # noqa: E731
    on_two_workers(gate, job, "a worker of each node at the gate")
    assert_consistent(store, job_id, job_file, budget=10)
    nodes = {t.worker.split("@")[1] for t in store.trials(job_id)}
    assert len(nodes) == 2  # one CPU per node, one actor per CPU: both nodes evaluated trials
    assert all(t.values["cluster_score"] == expected(t.arch_json, 1.0) for t in store.trials(job_id))


def test_unreachable_cluster_is_a_clear_error():
    disconnect()
    with pytest.raises(ClusterError, match="could not connect to the Ray cluster at '127.0.0.1:1'"):
        connect("127.0.0.1:1")


def test_local_ray_is_a_new_instance_even_beside_a_cluster_started_on_this_machine():
    """Someone's `ray start` on the same machine does not capture a local run: without an address Ray
    would join that cluster, then refuse the run's CPU count."""
    import ray

    disconnect()
    address_file = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"  # what `ray start` leaves
    had_address_file = address_file.exists()
    head = subprocess.Popen(
        ["ray", "start", "--head", "--block", "--num-cpus", "1", "--port", str(free_port())],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_until(lambda: ray_processes_of(head.pid) or head.poll() is not None, "the cluster to start")
        connect(None, workers=2)
        assert ray.cluster_resources()["CPU"] == max(2, os.cpu_count() or 1)  # ours, not its 1 CPU
        assert head.poll() is None  # and the other cluster runs on
    finally:
        disconnect()
        head.terminate()  # --block: it stops the processes it started
        head.wait(120)
        if not had_address_file:
            address_file.unlink(missing_ok=True)
