"""Every benchmark case runs once at tiny size, so the suite cannot rot."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_quick_benchmark_runs_every_case(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "bench", "run.py"),
            "--quick",
            "--out",
            str(tmp_path),
            "--peers",
            "torch",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((tmp_path / "quick.json").read_text())
    assert set(results["cases"]) == {"1", "2", "4", "5", "6", "7", "8"}  # 3 is inside 2
    assert set(results["cases"]["8"]["groups"][""]) >= {"npkeras"}
    assert set(results["cases"]["7"]["groups"][""]) >= {"npkeras", "gemm-floor"}
    tiny = results["cases"]["1"]["groups"][""]
    assert tiny["npkeras"]["median"] > 0 and tiny["npkeras"]["ratio_to_npkeras"] == 1.0
    assert set(results["cases"]["2"]["groups"]["batch 1024"]) >= {
        "npkeras",
        "numpy-floor",
        "matmul-floor",
    }
    assert results["environment"]["forced_blas_variables_removed"]
    assert "kernel=" in proc.stdout


def test_quick_kernel_benchmark_compares_every_piece():
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "kernels.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    expected = 8 if "not built" not in proc.stdout else 4
    timed = [line for line in lines[1:] if line.split()[-1].replace(".", "").isdigit()]
    assert len(timed) == expected
    assert all(float(line.split()[-2]) > 0 and float(line.split()[-1]) > 0 for line in timed)
