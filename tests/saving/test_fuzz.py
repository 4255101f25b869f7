"""The mutation fuzzer (tests/saving/fuzz.py) over a small saved model: every outcome is a
successful load or a ModelFileError, no load over 256 MB or 2 s. `make fuzz` runs it
longer."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_mutated_model_files_load_or_raise_model_file_error():
    # A process of its own: the memory limit (RLIMIT_AS) applies to the whole process.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, *sys.path])}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.saving.fuzz",
            "--count",
            "3000",
            "--seed",
            "0",
            "--memory-mb",
            "256",
            "--time-limit",
            "2",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    result = json.loads(proc.stdout)
    assert result["failures"] == [], result
    assert result["outcomes"]["loaded"] + result["outcomes"]["refused"] == 3000
    # the mutations reach every stage: some files still load, most are refused
    assert result["outcomes"]["loaded"] > 150 and result["outcomes"]["refused"] > 1500
    assert len(result["kinds"]) == 11
    assert result["slowest_s"] < 2.0
