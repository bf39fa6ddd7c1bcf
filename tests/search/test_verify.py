"""`supernas verify` on a real finished job: every objective re-measured on the extracted, reloaded
checkpoint, stored beside the searched value, shown by show/pareto, kept across restarts and resumes."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import statistics
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from supernas.models.checkpoint import WEIGHTS, load_subnet, tensor_bytes_on_disk
from supernas.models.supernet import Supernet
from supernas.predictors.catalogue import get_metric
from supernas.predictors.latency.measure import model_latency, subnet_latency
from supernas.predictors.latency.metrics import workload_option
from supernas.search.store.records import EVALUATED, VerificationRecord, VerifiedValue
from supernas.search.store.store import open_store
from supernas.search.verify import TOLERANCE, constraint_lines, noise_band, within_noise
from supernas.spaces.architecture import parse_architecture
from supernas.spaces.spec import load_spec
from tests.helpers import supernas as run_supernas
from tests.search.jobs_helpers import write_job

DETERMINISTIC = ("val_loss", "weight_bytes", "params", "hidden_cov")
# Latency: one thread and the thread CPU clock, the steadiest setting; on this project's shared 2-core VMs
# medians of one subnet still vary up to 2-3x with the neighbours' load, so the bound is measured (below).
LATENCY = {"batch_size": 1, "seq_len": 32, "repeats": 5, "threads": 1, "clock": "cpu"}
ROUNDS = 6
# The medians of one subnet timed again and again here spread up to x1.44 on an idle 2-core VM and up to
# x2.4 under a busy loop per core (so the bound is measured, with this floor); a wrong workload (sequence
# length, batch, threads) or model moves a ratio x2 or more.
NOISE_FLOOR = 1.5


def supernas(*args: str, home: Path | None = None) -> subprocess.CompletedProcess:
    return run_supernas(*args, home=home, timeout=600)


def job_spec(tmp: Path) -> str:
    """A quality/latency/size search stopped by its wall-time budget, so that `resume` adds trials."""
    return write_job(
        tmp,
        name="verify-job",
        objectives=[
            {"metric": "val_loss"},
            {"metric": "latency_ms", "options": LATENCY},
            {"metric": "weight_bytes"},
        ],
        constraints=[{"metric": "params", "max": 3.0e6}, {"metric": "hidden_cov", "min": -1.0e9}],
        strategy={"name": "nsga2", "population": 8},
        budget={"trials": 200, "wall_time_s": 6},
        workers=1,
    )


@pytest.fixture(scope="module")
def verified_job(tmp_path_factory):
    """A finished job, then `supernas verify 1 --trials front`: (db url, home, job file, verify's output)."""
    tmp = tmp_path_factory.mktemp("verify-job")
    home, url, job_file = tmp / "home", f"sqlite:///{tmp / 'jobs.db'}", job_spec(tmp)
    done = supernas("run", job_file, "--db", url, "--no-progress", home=home)
    assert done.returncode == 0, done.stdout + done.stderr
    verified = supernas("verify", "1", "--trials", "front", "--db", url, home=home)
    return url, home, job_file, verified


@pytest.mark.timing
def test_deterministic_objectives_equal_and_latency_within_noise(verified_job):
    url, _, _, verified = verified_job
    assert verified.returncode == 0, verified.stdout + verified.stderr
    with open_store(url) as store:
        front = {t.number: t for t in store.front(1)}
        records = store.verifications(1)
    assert [r.trial_number for r in records] == sorted(front)
    for record in records:
        trial = front[record.trial_number]
        assert set(record.values) == {"val_loss", "latency_ms", "weight_bytes", "params", "hidden_cov"}
        for name in DETERMINISTIC:
            value = record.values[name]
            assert value.deterministic and value.searched == trial.values[name]
            assert value.error <= TOLERANCE, (record.trial_number, name, value)
        latency = record.values["latency_ms"]
        assert not latency.deterministic and latency.spread is not None and latency.measured > 0
        assert (
            "timed on the loaded checkpoint" in latency.method
            and "1 thread, median of 5 to 15 probe-normalised cpu-clock runs" in latency.method
        )
    out = verified.stdout
    assert f"summary over {len(records)} trial" in out
    for name in DETERMINISTIC:
        assert f"  {name}: mean error " in out and "all equal within 1e-05" in out
    assert "  latency_ms: mean error " in out and "timing runs spread" in out
    n, latencies = len(records), [r.values["latency_ms"] for r in records]
    quiet = sum(1 for v in latencies if v.error <= v.spread)  # the noise band of a timed value: its spread
    close = sum(1 for v in latencies if v.error <= 0.10)
    assert f": {quiet} of {n} within their noise, {close} within ±10%" in out
    assert (
        f"  constraint params max 3e+06: kept as measured by {n} of the {n} trials that kept it when searched"
        in out
    )


@pytest.mark.timing
def test_verify_times_what_the_search_times(verified_job, monkeypatch):
    """verify's latency is the search's measurement, on the same workload, checked in two steps whose
    two sides are timed at the same moments, so that a loaded machine slows both alike:
    (1) each front subnet timed as the search times it (extracted from the job's supernet) and as verify
    times it (its loaded checkpoint), in alternating rounds, agree within the noise of the repeats;
    (2) `supernas verify` run again, each time beside a timing of its checkpoint here with the job's
    workload, stores what that timing gives, within the noise of all these repeats.
    A wrong model or workload moves a ratio by more than the noise. The searched values themselves were
    timed at another moment (in a Ray worker while the job started) and cannot be timed again: bounding
    verify's error against them failed under a busy loop per core (one front trial at x1.63 against a
    measured noise of x1.50), so verify reports that error and this test does not bound it.
    The timings here use the job's home, as verify does: its probe reference scales them (another home's
    reference, measured at another moment, put CI's timings here x1.5 off verify's)."""
    url, home, _, _ = verified_job
    monkeypatch.setenv("SUPERNAS_HOME", str(home))
    workload = workload_option(get_metric("latency_ms", **LATENCY))
    net = Supernet(load_spec("gpt-tiny"), seed=0).eval()
    with open_store(url) as store:
        records = store.verifications(1)
        trials = {t.number: t for t in store.front(1)}
    ratios, repeats = [], []
    for record in records:
        arch = parse_architecture(net.spec, trials[record.trial_number].arch_json, "front trial")
        model = load_subnet(record.checkpoint)
        searched_way, verify_way = [], []
        for _ in range(ROUNDS):
            searched_way.append(subnet_latency(net, arch, workload).median_ms)
            verify_way.append(model_latency(model, workload).median_ms)
        ratios.append(ratio(statistics.median(searched_way), statistics.median(verify_way)))
        repeats += [max(searched_way) / min(searched_way), max(verify_way) / min(verify_way)]
    noise = max(*repeats, NOISE_FLOOR)
    assert statistics.median(ratios) <= noise, (f"noise x{noise:.2f}", ratios)

    # (2) on the front trial of median latency; verify writes into the default folder, which it replaces,
    # so the checkpoint stays where the other tests look for it
    number = sorted(records, key=lambda r: r.values["latency_ms"].searched)[len(records) // 2].trial_number
    model = load_subnet(next(r.checkpoint for r in records if r.trial_number == number))
    stored, timed = [], []
    for _ in range(3):
        again = supernas("verify", "1", "--trials", str(number), "--db", url, home=home)
        assert again.returncode == 0, again.stdout + again.stderr
        with open_store(url) as store:
            stored.append(store.verifications(1, [number])[0].values["latency_ms"].measured)
        timed.append(model_latency(model, workload).median_ms)
    # their own repeats count in the noise (seen idle: the timings here at 2.29, 2.19, then 1.23 ms)
    noise = max(noise, max(stored) / min(stored), max(timed) / min(timed))
    assert ratio(statistics.median(stored), statistics.median(timed)) <= noise, (noise, stored, timed)


def ratio(a: float, b: float) -> float:
    """How many times the larger of two positive values is the smaller."""
    return max(a / b, b / a)


def test_checkpoints_are_written_loadable_and_sized_from_disk(verified_job):
    url, home, _, _ = verified_job
    with open_store(url) as store:
        records = store.verifications(1)
        front = {t.number: t for t in store.front(1)}
    for record in records:
        path = Path(record.checkpoint)
        assert path == home / "checkpoints" / "job-1" / f"trial-{record.trial_number}"
        assert load_subnet(path).arch.arch_id == front[record.trial_number].arch_id
        assert record.checkpoint_bytes == (path / WEIGHTS).stat().st_size
        assert (
            record.values["weight_bytes"].measured
            == tensor_bytes_on_disk(path / WEIGHTS)
            < record.checkpoint_bytes
        )
        assert record.machine["threads"] == 1 and record.machine["host"]


def test_show_and_pareto_show_verified_values(verified_job):
    url, home, _, _ = verified_job
    with open_store(url) as store:
        records = {r.trial_number: r for r in store.verifications(1)}
    shown = supernas("show", "1", "--db", url, home=home)
    assert shown.returncode == 0, shown.stderr
    assert "verified" in shown.stdout and "= / " in shown.stdout
    assert f"verified on checkpoints: {len(records)} of {len(records)} front trials" in shown.stdout
    assert "  latency_ms: mean error" in shown.stdout
    rows = list(
        csv.DictReader(io.StringIO(supernas("pareto", "1", "--format", "csv", "--db", url, home=home).stdout))
    )
    assert {int(r["trial"]) for r in rows} == set(records)
    for row in rows:
        values = records[int(row["trial"])].values
        assert float(row["latency_ms (verified)"]) == values["latency_ms"].measured
        assert float(row["val_loss (verified)"]) == values["val_loss"].measured
    for row in json.loads(supernas("pareto", "1", "--format", "json", "--db", url, home=home).stdout):
        assert row["verified"] == {m: v.measured for m, v in records[row["trial"]].values.items()}


def test_rows_survive_a_restart_and_a_resume(verified_job):
    url, home, _, _ = verified_job
    with open_store(url) as store:
        before, history = store.verifications(1), store.verifications(1, history=True)
        evaluated = store.count_trials(1, EVALUATED)
    with open_store(url) as reopened:  # a new process would see the same: the store is the source of truth
        assert reopened.verifications(1) == before
    resumed = supernas("resume", "1", "--db", url, "--no-progress", home=home)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    with open_store(url) as store:
        assert store.count_trials(1, EVALUATED) > evaluated  # the resume searched on
        assert store.verifications(1, [r.trial_number for r in before]) == before
        assert store.verifications(1, history=True) == history


def test_verifying_again_appends_and_the_newest_is_shown(verified_job, tmp_path):
    url, home, _, _ = verified_job
    with open_store(url) as store:
        first = store.verifications(1)[0]
        earlier = store.verifications(1, [first.trial_number], history=True)
    again = supernas(
        "verify",
        "1",
        "--trials",
        str(first.trial_number),
        "--db",
        url,
        "-o",
        str(tmp_path / "ckpts"),
        home=home,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"trial {first.trial_number}: {tmp_path / 'ckpts' / f'trial-{first.trial_number}'}" in again.stdout
    assert "summary over 1 trial of job 1" in again.stdout
    with open_store(url) as store:
        history = store.verifications(1, [first.trial_number], history=True)
        latest = store.verifications(1, [first.trial_number])
    assert history == [*earlier, latest[0]] and latest[0].id > first.id
    assert latest[0].checkpoint == str(tmp_path / "ckpts" / f"trial-{first.trial_number}")
    for name in DETERMINISTIC:
        assert latest[0].values[name].measured == pytest.approx(first.values[name].measured, rel=TOLERANCE)


def test_verify_in_onnx_runtime_measures_the_exported_file(verified_job, tmp_path):
    """--runtime onnxruntime: held-out quality of each checkpoint's model.onnx run in ONNX Runtime (the
    searched value, to the runtime's float rounding), its graph timed there, counts as on the checkpoint."""
    url, home, _, _ = verified_job
    with open_store(url) as store:
        trials = [t.number for t in store.front(1)][:3]
    out = tmp_path / "ort"
    done = supernas(
        "verify", "1", "--trials", ",".join(map(str, trials)), "--runtime", "onnxruntime", "--db", url,
        "-o", str(out), home=home,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    with open_store(url) as store:
        records = store.verifications(1, trials)
    for record in records:
        assert (out / f"trial-{record.trial_number}" / "model.onnx").is_file()
        loss = record.values["val_loss"]
        assert loss.method == "held-out quality of model.onnx in ONNX Runtime" and not loss.deterministic
        assert loss.measured == pytest.approx(loss.searched, rel=1e-3)
        assert "timed in ONNX Runtime" in record.values["latency_ms"].method
        assert record.values["weight_bytes"].measured == record.values["weight_bytes"].searched
    wrong = supernas("verify", "1", "--runtime", "tensorrt", "--db", url, home=home)
    assert (
        wrong.returncode == 2 and "unknown runtime 'tensorrt' (allowed: torch, onnxruntime)" in wrong.stderr
    )


def test_a_broken_promise_exits_1_and_says_which(verified_job):
    """A trial whose stored params disagree with its architecture (imported with a wrong value) fails
    verification."""
    url, home, job_file, _ = verified_job
    with open_store(url) as store:
        trial = store.front(1)[0]
        spec = store.get_job(1).spec
        job = store.create_job("tampered", spec["space"], spec, 1)
        wrong = {**trial.values, "params": trial.values["params"] + 1000}
        store.import_trials(
            job.id,
            [(trial.arch_id, trial.arch_json, wrong, True)],
            [("val_loss", "minimize"), ("latency_ms", "minimize"), ("weight_bytes", "minimize")],
        )
    done = supernas("verify", str(job.id), "--db", url, home=home)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "params: mean error" in done.stdout and "1 DIFFER within 1e-05" in done.stdout
    assert (
        done.stderr.strip()
        == "error: deterministic values differ from the searched ones by more than 1e-05: params (1)"
    )


@pytest.mark.parametrize(
    "args, needle",
    [
        (
            ["--trials", "best"],
            (
                "--trials 'best': expected front (the Pareto front), all (every trial with values) "
                "or trial numbers"
            ),
        ),
        (["--trials", "1,x"], "--trials '1,x': expected"),
        (["--trials", "9999"], "job 1 has no trial number 9999"),
    ],
)
def test_bad_trials_are_one_line_exit_2(verified_job, args, needle):
    url, home, _, _ = verified_job
    done = supernas("verify", "1", *args, "--db", url, home=home)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and needle in done.stderr and "Traceback" not in done.stderr


def test_failed_trial_and_foreign_output_directory_are_refused(verified_job, tmp_path):
    url, home, _, _ = verified_job
    with open_store(url) as store:
        (failed,) = store.add_trials(1, [("0123456789ab", "{}")])
        store.fail_trial(failed.id, "RuntimeError: out of memory")
        number = store.front(1)[0].number
    done = supernas("verify", "1", "--trials", str(failed.number), "--db", url, home=home)
    assert done.returncode == 2 and done.stderr.strip() == (
        f"error: trial {failed.number} of job 1 failed (RuntimeError: out of memory); choose another trial"
    )
    (tmp_path / "out" / f"trial-{number}").mkdir(parents=True)
    (tmp_path / "out" / f"trial-{number}" / "notes.txt").write_text("mine")
    done = supernas(
        "verify", "1", "--trials", str(number), "-o", str(tmp_path / "out"), "--db", url, home=home
    )
    assert done.returncode == 2 and "is not a checkpoint of arch" in done.stderr
    assert (tmp_path / "out" / f"trial-{number}" / "notes.txt").read_text() == "mine"


def test_constraints_are_checked_on_the_measured_values():
    """A trial kept a constraint when searched (a predicted latency, say); the measured value may break it."""

    def verified(number: int, searched: float, measured: float) -> VerificationRecord:
        value = VerifiedValue("lat", searched, measured, "timed", False)
        return VerificationRecord(number, 1, number, number, "/c", 1, {}, {"lat": value}, datetime.now(UTC))

    records = [verified(1, 10, 16), verified(2, 14, 12), verified(3, 20, 21)]
    assert constraint_lines(
        records, [{"metric": "lat", "max": 15}, {"metric": "lat", "min": 11, "max": 30}]
    ) == [
        (
            "constraint lat max 15: kept as measured by 1 of the 2 trials that kept it when searched "
            "(broken by trial 1)"
        ),
        "constraint lat min 11 and max 30: kept as measured by 2 of the 2 trials that kept it when searched",
    ]


def test_a_distilled_checkpoint_is_verified_as_its_trial_and_marked_distilled(verified_job, tmp_path):
    url, home, _, _ = verified_job
    with open_store(url) as store:
        number = store.verifications(1)[0].trial_number
    out = tmp_path / "distilled"
    made = supernas(
        "distill", "1", str(number), "-o", str(out), "--steps", "3", "--db", url, "--no-progress", home=home
    )
    assert made.returncode == 0, made.stdout + made.stderr
    assert "held-out distillation loss" in made.stdout
    again = supernas("distill", "1", str(number), "-o", str(out), "--steps", "3", "--db", url, home=home)
    assert again.returncode == 2 and "--resume" in again.stderr
    verified = supernas("verify", "1", "--checkpoint", str(out), "--db", url, home=home)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "distilled weights" in verified.stdout
    with open_store(url) as store:
        latest = store.verifications(1, [number])[0]
        assert (latest.weights, latest.checkpoint) == ("distilled", str(out))
    other = supernas("verify", "1", "--checkpoint", str(tmp_path / "nowhere"), "--db", url, home=home)
    assert other.returncode == 2 and "nowhere" in other.stderr

    best = supernas(
        "distill", "1", "best", "-o", str(tmp_path / "best"), "--steps", "1", "--db", url, home=home
    )
    assert best.returncode == 0, best.stdout + best.stderr
    with open_store(url) as store:
        front = store.front(1)
    lowest = min(front, key=lambda t: (t.values["val_loss"], t.number)).number  # val_loss: minimized
    config = json.loads((tmp_path / "best" / "config.json").read_text())
    assert config["distilled"]["trial"] == lowest and f"from trial {lowest} " in best.stdout
    wrong = supernas("distill", "1", "fastest", "-o", str(tmp_path / "x"), "--db", url, home=home)
    assert wrong.returncode == 2 and "'fastest' is not a trial number or 'best'" in wrong.stderr


def test_options_replace_the_jobs_and_their_values_are_reported_not_held(verified_job, tmp_path):
    """`--option batches=2` re-measures val_loss on 2 held-out batches instead of the job's 16: another
    measurement, so it differs from the searched value without failing the run; its note says why."""
    url, home, _, _ = verified_job
    with open_store(url) as store:
        number = store.verifications(1)[0].trial_number
    args = ("verify", "1", "--trials", str(number), "-o", str(tmp_path / "v"), "--db", url)
    done = supernas(*args, "--option", "batches=2", home=home)
    assert done.returncode == 0, done.stdout + done.stderr
    with open_store(url) as store:
        latest = store.verifications(1, [number])[0]
    value = latest.values["val_loss"]
    assert not value.deterministic and "batches=2" in value.note
    assert value.searched is not None and value.measured != pytest.approx(value.searched, rel=1e-5)
    assert latest.values["weight_bytes"].deterministic  # metrics without the option: held as before

    wrong = supernas(*args, "--option", "sentencez=5", home=home)
    assert (
        wrong.returncode == 2 and "--option sentencez: no metric of job 'verify-job' takes it" in wrong.stderr
    )


def test_within_noise_reads_exact_metrics_to_the_tolerance_and_timed_ones_to_their_spread():
    exact = VerifiedValue("params", 100.0, 100.0 * (1 + 2e-5), "analytic", True)
    timed = VerifiedValue("latency_ms", 10.0, 11.0, "timed", False, spread=0.15)
    assert noise_band(exact) == TOLERANCE and within_noise(exact) is False
    assert within_noise(dataclasses.replace(exact, measured=100.0 * (1 + 5e-6))) is True
    assert noise_band(timed) == 0.15 and within_noise(timed) is True
    assert within_noise(dataclasses.replace(timed, measured=12.0)) is False  # 20% off, runs spread 15%
    assert within_noise(dataclasses.replace(timed, spread=None)) is None
    assert within_noise(dataclasses.replace(timed, measured=None)) is None
