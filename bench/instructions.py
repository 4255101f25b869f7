"""The engine's cost in instructions: npkeras against an earlier checkout of itself.

    python bench/instructions.py --against /path/to/other/checkout [--cases tiny,digits]

Wall-clock medians of small models swing 20-100% between runs on a shared machine; the
number of instructions a training step executes does not. Each workload runs under
valgrind's callgrind twice, once with its timed part repeated N times and once with it
not run at all; the difference over N is the cost of one unit (a training step, a
``predict`` call, a one-row model call), with imports, data and model set-up cancelled
out. The cases follow bench/run.py (1, 2 at batch 32, 4 and 6; each fit call one epoch,
so a call's set-up counts as it does there).

OpenBLAS runs one thread, so that the count is deterministic (its idle worker threads
spin for a varying number of instructions); npkeras's own choices are made as with the
two threads bench/run.py uses here. String hashing is seeded (PYTHONHASHSEED=0): with
random seeds the digits step moved by up to 10% between runs of the same code (550,800
to 616,200), with a fixed one it repeats to 0.1%. Needs ``valgrind`` on the PATH. Instructions are not
time (a cache miss costs more than an add), but for the Python-bound small cases they
follow it closely, and they are the same on every run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

WORKLOAD = r"""
import sys
import numpy as np
import npkeras as keras
from npkeras import layers

keras.backend.one_blas_thread = False  # npkeras's choices as with two BLAS threads
case, repeats = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
keras.utils.set_random_seed(0)
if case == "tiny":  # case 1: the tutorial's model, batch 32, one epoch of 9000 rows
    x = rng.integers(0, 100, (9000, 3)).astype(np.float32)
    y = (x @ np.array([1, 2, 3], dtype=np.float32))[:, None]
    m = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(4, activation="relu"),
                          layers.Dense(1)])
    m.compile(optimizer=keras.optimizers.SGD(1e-7), loss="mse")
    run = lambda: m.fit(x, y, batch_size=32, epochs=1, verbose=0)
elif case == "digits":  # case 6: 64-64-10, Adam, batch 32, one epoch of 1437 rows
    from sklearn.datasets import load_digits
    d = load_digits()
    x, y = (d.data[:1437] / 16).astype(np.float32), d.target[:1437]
    m = keras.Sequential([keras.Input(shape=(64,)), layers.Dense(64, activation="relu"),
                          layers.Dense(10, activation="softmax")])
    m.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    run = lambda: m.fit(x, y, batch_size=32, epochs=1, verbose=0)
else:  # cases 2 and 4: the 784-256-128-10 MLP
    x = rng.random((2048, 784), dtype=np.float32)
    y = rng.integers(0, 10, 2048)
    m = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(256, activation="relu"),
                          layers.Dense(128, activation="relu"),
                          layers.Dense(10, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    row = x[:1]
    run = {"mlp_b32": lambda: m.fit(x, y, batch_size=32, epochs=1, verbose=0),
           "predict": lambda: m.predict(x, batch_size=1024, verbose=0),
           "one_row": lambda: [m(row) for _ in range(100)]}[case]
run()  # first calls (building, caches) are not counted
for _ in range(repeats):
    run()
"""

#: case -> (repeats, units per repeat, unit)
CASES = {
    "tiny": (3, 282, "step"),
    "digits": (3, 45, "step"),
    "mlp_b32": (1, 64, "step"),
    "predict": (2, 1, "call of 2048 rows"),
    "one_row": (3, 100, "call"),
}


def instructions(src: str, case: str, repeats: int) -> int:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env.update(PYTHONPATH=src, OPENBLAS_NUM_THREADS="1", PYTHONHASHSEED="0")
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, "-c", WORKLOAD, case, str(repeats)],
        env=env, capture_output=True, text=True, check=True,
    )
    found = re.search(r"Collected\s*:\s*([\d,]+)", done.stderr) or re.search(
        r"I\s+refs:\s*([\d,]+)", done.stderr
    )
    return int(found.group(1).replace(",", ""))


def per_unit(src: str, case: str) -> float:
    repeats, units, _ = CASES[case]
    return (instructions(src, case, repeats) - instructions(src, case, 0)) / (repeats * units)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--against", required=True, help="another npkeras checkout")
    parser.add_argument("--cases", default=",".join(CASES), help=f"from {', '.join(CASES)}")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (apt install valgrind)")
    sources = {"this": os.path.join(HERE, "..", "src"), "other": os.path.join(args.against, "src")}
    print(f"{'case':<10}{'this':>14}{'other':>14}{'this/other':>12}  instructions per")
    for case in args.cases.split(","):
        if case not in CASES:
            parser.error(f"unknown case {case!r}; cases are {', '.join(CASES)}")
        this, other = (per_unit(sources[name], case) for name in ("this", "other"))
        print(f"{case:<10}{this:14,.0f}{other:14,.0f}{this / other:12.3f}  {CASES[case][2]}")


if __name__ == "__main__":
    main()
