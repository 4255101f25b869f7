"""The backend helpers that layers use for array work."""

import os
import subprocess
import sys

import numpy as np
import pytest

from npkeras import backend


@pytest.mark.parametrize("shape", [(1, 3), (5, 1), (1024, 7)])
def test_column_sum_equals_the_sum_over_rows(shape):
    a = np.random.default_rng(0).standard_normal(shape)
    np.testing.assert_allclose(backend.column_sum(a), a.sum(axis=0), rtol=1e-12, atol=1e-12)
    out = np.empty(shape[1], np.float32)  # another type: converted on the way out
    assert backend.column_sum(a, out=out) is out
    np.testing.assert_allclose(out, a.sum(axis=0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("shape", [(1, 1), (7, 10), (2, 3, 5)])
@pytest.mark.parametrize("axis", [-1, 0])
def test_reduce_max_and_reduce_sum_keep_the_axis(shape, axis, compiled, monkeypatch):
    if not compiled:
        monkeypatch.setattr(backend, "kernels", None)
    a = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    assert np.array_equal(backend.reduce_max(a, axis), a.max(axis=axis, keepdims=True))
    np.testing.assert_allclose(
        backend.reduce_sum(a, axis), a.sum(axis=axis, keepdims=True), rtol=1e-6, atol=1e-6
    )


def test_reduce_sum_of_integers_and_booleans_counts():
    flags = np.array([[True, True, False]])
    assert backend.reduce_sum(flags).tolist() == [[2]]
    assert backend.reduce_sum(np.array([[1, 2, 3]])).tolist() == [[6]]


def test_reduce_max_of_a_row_with_nan_is_nan():
    a = np.array([[1.0, np.nan, 3.0], [np.nan, 0.0, 5.0], [1.0, 2.0, 3.0]], np.float32)
    assert np.array_equal(
        backend.reduce_max(a), np.array([[np.nan], [np.nan], [3.0]], np.float32), equal_nan=True
    )


def test_dot_into_writes_any_float_type():
    a, b = np.arange(6.0).reshape(2, 3), np.ones((3, 2))
    for dtype in (np.float64, np.float32):
        out = np.empty((2, 2), dtype)
        assert backend.dot_into(a, b, out) is out
        assert out.tolist() == [[3.0, 3.0], [12.0, 12.0]]


@pytest.mark.parametrize(
    "env,expected",
    [
        ({"NPKERAS_NUM_THREADS": "3", "OPENBLAS_NUM_THREADS": "1"}, 3),
        ({"OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "5"}, 2),  # OpenBLAS's precedence
        ({"GOTO_NUM_THREADS": "4", "OMP_NUM_THREADS": "5"}, 4),
        ({"OMP_NUM_THREADS": "5"}, 5),
        ({"NPKERAS_NUM_THREADS": "0", "OMP_NUM_THREADS": "x"}, 7),  # not a count: the CPUs
    ],
)
def test_num_threads_reads_the_environment_like_blas(env, expected, monkeypatch):
    for name in (
        "NPKERAS_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "GOTO_NUM_THREADS",
        "OMP_NUM_THREADS",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(backend.os, "cpu_count", lambda: 7)
    assert backend.num_threads() == expected


@pytest.mark.parametrize(
    "setup, expected",
    [
        ("", "16"),  # NumPy loaded by npkeras: OpenBLAS's idle threads sleep soon
        ("os.environ['OPENBLAS_THREAD_TIMEOUT'] = '20'", "20"),  # the user's value wins
        ("os.environ['GOTO_THREAD_TIMEOUT'] = '20'", None),  # so does the older name
        ("import numpy", None),  # NumPy loaded first: too late to choose, left alone
    ],
)
def test_openblas_idle_threads_are_asked_to_sleep_soon(setup, expected):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENBLAS_THREAD_TIMEOUT", "GOTO_THREAD_TIMEOUT")
    }
    script = f"import os\n{setup}\nimport npkeras\nprint(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == [str(expected)]
