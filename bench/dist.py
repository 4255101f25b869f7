"""Data-parallel training over MPI: steps/s for 1, 2 and 4 processes, time in Allreduce.

    .venv/bin/python bench/dist.py [--steps 100] [--repeats 3] [--processes 1 2 4] [--quick]

The MLP case of bench/run.py (784-256-128-10, Adam, global batch 128, float32) trains
under ``keras.distribution.DataParallel``, launched with Open MPI's mpiexec (the one the
``dist`` extra installs beside this Python), one BLAS thread per process. Each process
times its Allreduce calls (the one message of a step, including any wait for a slower
process); a separate loop times the Allreduce of the same 235,148-float buffer alone.
From the one-process step time and that buffer size, a weak-scaling model (every process
keeps its own batch of 128 rows) tells how many processes a network of 1 and 10 Gbit/s
carries before communication exceeds 10% of a step.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(os.path.dirname(HERE), "src")
BATCH = 128
#: per-message latency assumed for a network allreduce step (TCP over Ethernet)
NETWORK_LATENCY_S = 30e-6


def worker(steps: int, repeats: int) -> None:
    """Run inside mpiexec: time fit and the Allreduce; the chief prints one JSON line."""
    import numpy as np

    import npkeras as keras
    from npkeras.distribution import DataParallel

    class TimedDataParallel(DataParallel):
        """DataParallel that adds up the seconds spent in its Allreduce calls."""

        seconds = 0.0
        calls = 0

        def _allreduce(self, array):
            start = time.perf_counter()
            super()._allreduce(array)
            self.seconds += time.perf_counter() - start
            self.calls += 1

    distribution = TimedDataParallel()
    keras.distribution.set_distribution(distribution)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((steps * BATCH, 784), dtype=np.float32)
    y = rng.integers(0, 10, steps * BATCH)
    model = keras.Sequential(
        [
            keras.Input(shape=(784,)),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x[: 8 * BATCH], y[: 8 * BATCH], batch_size=BATCH, epochs=1, verbose=0)  # warm-up
    runs = []
    for _ in range(repeats):
        distribution.seconds, distribution.calls = 0.0, 0
        start = time.perf_counter()
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
        elapsed = time.perf_counter() - start
        runs.append((elapsed, distribution.seconds / max(distribution.calls, 1)))
    elapsed, allreduce_in_step = min(runs)
    buffer = model._training_step().prepare().exchange
    alone = float("nan")
    if distribution.world_size > 1:
        world = distribution._world
        world.comm.Barrier()
        loops = 200
        start = time.perf_counter()
        for _ in range(loops):
            world.comm.Allreduce(world.MPI.IN_PLACE, buffer, op=world.MPI.SUM)
        alone = (time.perf_counter() - start) / loops
        alone = world.comm.allreduce(alone, op=world.MPI.MAX)
    if distribution.is_chief:
        print(
            json.dumps(
                {
                    "processes": distribution.world_size,
                    "steps": steps,
                    "steps_per_s": steps / elapsed,
                    "step_ms": 1e3 * elapsed / steps,
                    "allreduce_in_step_ms": 1e3 * allreduce_in_step,
                    "allreduce_alone_ms": 1e3 * alone,
                    "buffer_floats": int(buffer.size),
                    "buffer_bytes": int(buffer.nbytes),
                }
            )
        )


def launch(processes: int, steps: int, repeats: int) -> dict:
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    env = dict(
        os.environ,
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        OMPI_MCA_btl="self,sm",
        OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONPATH=SOURCE + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # as bench/run.py does
        env.pop(name, None)
    command = [
        mpiexec,
        "-n",
        str(processes),
        "--oversubscribe",
        "--bind-to",
        "none",
        "--timeout",
        "600",
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        "--steps",
        str(steps),
        "--repeats",
        str(repeats),
    ]
    proc = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=660, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{processes} processes failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ring_allreduce_s(processes: int, nbytes: int, bits_per_s: float, local_s: float = 0.0) -> float:
    """A ring allreduce: each process sends and receives 2 (p - 1) / p of the buffer in
    2 (p - 1) messages, plus ``local_s``, the measured cost of the same allreduce between
    processes of one machine (copying and adding, no network)."""
    if processes == 1:
        return 0.0
    steps = 2 * (processes - 1)
    return steps / processes * nbytes * 8 / bits_per_s + steps * NETWORK_LATENCY_S + local_s


def weak_scaling(
    step_s: float, nbytes: int, bits_per_s: float, local_s: float = 0.0, limit: int = 4096
) -> dict:
    """The first process count (each process with its own batch of 128) at which the
    allreduce exceeds 10% of a step; and the batch per process from which the bandwidth
    part of the allreduce (which tends to 2 x bytes / bandwidth) stays under 10%."""
    first_over = None
    for p in range(2, limit + 1):
        comm = ring_allreduce_s(p, nbytes, bits_per_s, local_s)
        if comm > 0.1 * (step_s + comm):
            first_over = p
            break
    # the bandwidth term tends to 2 * bytes / bandwidth: compute grows with the batch
    bandwidth_s = 2 * nbytes * 8 / bits_per_s
    rows_needed = BATCH * 9 * bandwidth_s / step_s
    return {
        "first_process_count_over_10pct": first_over,
        "comm_ms_at_2": 1e3 * ring_allreduce_s(2, nbytes, bits_per_s, local_s),
        "comm_ms_at_64": 1e3 * ring_allreduce_s(64, nbytes, bits_per_s, local_s),
        "batch_per_process_for_10pct": int(rows_needed) + 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--quick", action="store_true", help="a few steps, to check it runs")
    parser.add_argument(
        "--model-step-ms",
        type=float,
        action="append",
        default=[],
        help="also evaluate the weak-scaling model at this step time",
    )
    parser.add_argument(
        "--model-local-ms",
        type=float,
        help="the one-machine allreduce cost for the model (default: measured)",
    )
    args = parser.parse_args()
    if args.quick:
        args.steps, args.repeats = 8, 1
    if args.worker:
        worker(args.steps, args.repeats)
        return
    print(
        f"MLP 784-256-128-10, Adam, float32, global batch {BATCH}, {args.steps} steps, "
        f"best of {args.repeats}; {os.cpu_count()} CPU cores, one BLAS thread per process"
    )
    print(
        f"{'processes':>9} {'steps/s':>8} {'step ms':>8} {'allreduce ms/step':>18} "
        f"{'allreduce alone ms':>19}"
    )
    results = [launch(p, args.steps, args.repeats) for p in args.processes]
    for r in results:
        print(
            f"{r['processes']:>9} {r['steps_per_s']:>8.1f} {r['step_ms']:>8.2f} "
            f"{r['allreduce_in_step_ms']:>18.3f} {r['allreduce_alone_ms']:>19.3f}"
        )
    one = next((r for r in results if r["processes"] == 1), results[0])
    measured_local = min(
        (r["allreduce_alone_ms"] for r in results if r["processes"] > 1), default=0.0
    )
    local_ms = measured_local if args.model_local_ms is None else args.model_local_ms
    for step_ms in [one["step_ms"], *args.model_step_ms]:
        print_weak_scaling(step_ms, one["buffer_bytes"], local_ms)


def print_weak_scaling(step_ms: float, nbytes: int, local_ms: float) -> None:
    step_s = step_ms / 1e3
    print(
        f"\nWeak scaling (each process keeps a batch of {BATCH}; step {step_ms:.2f} ms of "
        f"computing; ring allreduce of {nbytes / 1e6:.2f} MB: {local_ms:.3f} ms on one "
        f"machine plus the network at {NETWORK_LATENCY_S * 1e6:.0f} us per message):"
    )
    print(f"  one machine: the allreduce is {100 * local_ms / (step_ms + local_ms):.1f}% of a step")
    for gbits in (1, 10):
        model = weak_scaling(step_s, nbytes, gbits * 1e9, local_ms / 1e3)
        over = model["first_process_count_over_10pct"]
        print(
            f"  {gbits:>2} Gbit/s: allreduce {model['comm_ms_at_2']:.2f} ms at 2 processes, "
            f"{model['comm_ms_at_64']:.2f} ms at 64; over 10% of a step from "
            f"{over if over else 'never (up to 4096)'} processes; the bandwidth part alone "
            f"stays under 10% from {model['batch_per_process_for_10pct']} rows per process"
        )


if __name__ == "__main__":
    main()
