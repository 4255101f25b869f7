"""Data-parallel training over MPI, launched with mpiexec: 2 and 4 processes against one.

The worker (mpi_worker.py) trains a small classifier for 3 epochs (Adam, shuffling, 203
rows in global batches of 32, so the last batch splits unevenly), then evaluates and
predicts; the one-process reference is the same function run here.
"""

import os
import time

import numpy as np
import pytest

from tests.distribution import mpi_worker
from tests.distribution.launch import require_mpi, run_worker

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def one_process():
    """The reference: the worker's training in this process, float64 and float32."""
    try:
        return {dtype: mpi_worker.train(None, dtype) for dtype in ("float64", "float32")}
    finally:
        mpi_worker.backend.set_floatx("float32")


def _launch(processes, out, *args):
    result = run_worker(processes, str(out), *args)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _ranks(out, dtype, processes):
    return [dict(np.load(os.path.join(out, f"{dtype}-rank{r}.npz"))) for r in range(processes)]


@pytest.fixture(scope="module", params=[2, 4])
def job(request, tmp_path_factory):
    """One launch per process count, training in float64 and then float32."""
    require_mpi()
    out = tmp_path_factory.mktemp(f"job{request.param}")
    _launch(request.param, out, "--dtype", "float64", "--dtype", "float32")
    return request.param, out


def test_data_parallel_float64_weights_equal_one_process(job, one_process):
    processes, out = job
    ranks = _ranks(out, "float64", processes)
    assert [int(r["size"]) for r in ranks] == [processes] * processes
    reference = one_process["float64"]["weights"]
    for r in ranks:
        assert np.abs(r["weights"] - reference).max() <= 1e-10


def test_data_parallel_float32_replicas_bit_identical(job, one_process):
    processes, out = job
    ranks = _ranks(out, "float32", processes)
    for r in ranks[1:]:
        np.testing.assert_array_equal(r["weights"], ranks[0]["weights"])
    # and close to one process (float32 rounding differs with the split)
    np.testing.assert_allclose(ranks[0]["weights"], one_process["float32"]["weights"], atol=1e-4)


def test_data_parallel_epoch_metrics_evaluate_predict_equal_one_process(job, one_process):
    processes, out = job
    reference = one_process["float64"]
    for r in _ranks(out, "float64", processes):
        for key in (
            "history/loss",
            "history/accuracy",
            "history/val_loss",
            "history/val_accuracy",
            "evaluate",
        ):
            np.testing.assert_allclose(r[key], reference[key], rtol=1e-12, atol=1e-12, err_msg=key)
        # predict returns every row on every process, in order
        assert r["predict"].shape == reference["predict"].shape
        np.testing.assert_allclose(r["predict"], reference["predict"], atol=1e-12)


_random_by_job: dict = {}


def test_data_parallel_random_streams_differ_per_process_and_repeat(job, one_process):
    """Dropout draws differ between processes; the chief draws what one process would;
    process 1 draws the same in a 2- and a 4-process job (a seeded run repeats)."""
    processes, out = job
    draws = [r["random"] for r in _ranks(out, "float64", processes)]
    np.testing.assert_array_equal(draws[0], one_process["float64"]["random"])
    assert len({tuple(d) for d in draws}) == processes
    _random_by_job[processes] = draws
    if len(_random_by_job) == 2:
        np.testing.assert_array_equal(_random_by_job[2][1], _random_by_job[4][1])


def test_data_parallel_only_chief_writes_checkpoints_and_csv(job):
    _, out = job
    with open(os.path.join(out, "saves.log")) as f:
        savers = f.read().split()
    assert savers == ["0"] * 6  # 3 epochs in float64 then 3 in float32, chief only
    assert sorted(p for p in os.listdir(out) if p.startswith("ckpt")) == [
        "ckpt-1.weights.npz",
        "ckpt-2.weights.npz",
        "ckpt-3.weights.npz",
    ]
    with open(os.path.join(out, "log.csv")) as f:
        lines = f.read().splitlines()
    assert lines[0].startswith("epoch,") and len(lines) == 4


def test_data_parallel_failure_aborts_job_and_backup_resumes(tmp_path, one_process):
    """Process 1 raises at step 5 of epoch 2: the whole job ends within seconds with its
    message; a relaunch resumes from the chief's backup and ends where an uninterrupted
    run does."""
    backup = str(tmp_path / "backup")
    failed = run_worker(
        2, str(tmp_path), "--backup", backup, "--fail-epoch", "1", "--fail-step", "5"
    )
    ended = time.time()
    with open(tmp_path / "failed_at") as f:
        failed_at = float(f.read())
    assert failed.returncode != 0
    assert ended - failed_at < 5.0
    assert "planned failure on process 1 at step 5" in failed.stderr
    assert "process 1 of 2 failed" in failed.stderr
    assert os.path.exists(os.path.join(backup, "backup.npkeras"))

    _launch(2, tmp_path, "--backup", backup)
    ranks = _ranks(tmp_path, "float64", 2)
    for r in ranks:
        assert list(r["epochs"]) == [1, 2]  # epoch 0 came from the backup
        assert np.abs(r["weights"] - one_process["float64"]["weights"]).max() <= 1e-10
    assert not os.path.exists(os.path.join(backup, "backup.npkeras"))  # deleted at the end
