"""npkeras benchmarks: every library in one process, interleaved, same threads.

    python bench/run.py                 # all cases, full size (a few minutes)
    python bench/run.py --quick         # tiny sizes: checks that every case still runs

Results are printed as a table (median seconds, min-max, ratio to npkeras) and written
to bench/results/<name>.json. The machine's OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
settings are removed for the benchmark (a user's machine does not have them), and the
OpenBLAS kernel used is recorded.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time

_FORCED_BLAS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if any(v in os.environ for v in _FORCED_BLAS) and __name__ == "__main__":
    env = {k: v for k, v in os.environ.items() if k not in _FORCED_BLAS}
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def _limit_threads(threads: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "")
        + f" --xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'}"
        f" intra_op_parallelism_threads={threads}"
    ).strip()
    os.environ.setdefault("KERAS_BACKEND", "jax")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--cases", default="1,2,4,5,6,7,8", help="case numbers (3, the floor, runs within 2)"
    )
    parser.add_argument("--peers", default="torch,keras-jax", help="optional peers to try")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    parser.add_argument("--name", default=None, help="results file name (default: quick or full)")
    args = parser.parse_args(argv)
    _limit_threads(args.threads)
    # npkeras before NumPy, as a program starting with `import npkeras` loads them:
    # OpenBLAS reads its idle-thread setting as it loads, which npkeras's backend chooses
    importlib.import_module("npkeras")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import cases
    from peers import available_peers

    peers, skipped = available_peers(args.threads, only=args.peers.split(","))
    env = cases.environment(args.threads, peers, skipped)
    print(cases.format_environment(env))
    repeats = 1 if args.quick else max(args.repeats, 5)
    if args.quick:
        cases.PAUSE_SECONDS = 0.0
    results = {"environment": env, "quick": args.quick, "repeats": repeats, "cases": {}}
    selected = []
    for case in args.cases.split(","):
        case = cases.ALIASES.get(case.strip(), case.strip())
        if case not in cases.CASES:
            parser.error(
                f"unknown case {case!r}; cases are {', '.join(cases.CASES)} (3 runs within 2)"
            )
        if case not in selected:
            selected.append(case)
    for case in selected:
        runner = cases.CASES[case]
        started = time.perf_counter()
        outcome = runner(peers, quick=args.quick, repeats=repeats)
        outcome["wall_seconds"] = round(time.perf_counter() - started, 2)
        results["cases"][case] = outcome
        print(cases.format_case(outcome))
    os.makedirs(args.out, exist_ok=True)
    name = args.name or ("quick" if args.quick else "full")
    path = os.path.join(args.out, f"{name}.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
    print(f"results written to {path}")
    return results


if __name__ == "__main__":
    main()
