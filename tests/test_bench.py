"""Every benchmark case runs once at tiny size, so the suite cannot rot."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_quick_benchmark_runs_every_case(tmp_path):
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "run.py"), "--quick",
                           "--out", str(tmp_path), "--peers", "torch"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((tmp_path / "quick.json").read_text())
    assert set(results["cases"]) == {"1", "2", "4", "5", "6"}  # 3, the floor, is inside 2
    tiny = results["cases"]["1"]["groups"][""]
    assert tiny["npkeras"]["median"] > 0 and tiny["npkeras"]["ratio_to_npkeras"] == 1.0
    assert set(results["cases"]["2"]["groups"]["batch 1024"]) >= {"npkeras", "numpy-floor", "matmul-floor"}
    assert results["environment"]["forced_blas_variables_removed"]
    assert "kernel=" in proc.stdout
