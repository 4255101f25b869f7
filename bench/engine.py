"""The engine's cost: npkeras against an earlier checkout of itself, and custom layers.

    python bench/engine.py --against /path/to/other/checkout [--rounds 5]

Runs the same workloads in fresh processes, alternating between this checkout's
``src`` and the other one's (A B, B A, A B, ...), and reports the median of each. It
also times a Dense layer written Keras-style with ``keras.ops`` (gradients from the
tape) against the built-in Dense at batch 128. OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are
removed for the runs, as in bench/run.py.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

WORKLOAD = r"""
import gc, json, sys, time
import numpy as np
import npkeras as keras
from npkeras import layers

def timed(fn, repeats):
    best = []
    for _ in range(repeats):
        gc.collect()
        t = time.perf_counter(); fn(); best.append(time.perf_counter() - t)
    return sorted(best)[len(best) // 2]

out = {}
rng = np.random.default_rng(0)
# case 1: the tutorial's tiny model, batch 32, one epoch of 9000 rows
x = rng.integers(0, 100, (9000, 3)).astype(np.float32)
y = (x @ np.array([1, 2, 3], dtype=np.float32))[:, None]
keras.utils.set_random_seed(0)
m = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(4, activation="relu"), layers.Dense(1)])
m.compile(optimizer=keras.optimizers.SGD(1e-7), loss="mse")
m.fit(x, y, batch_size=32, epochs=1, verbose=0)
out["tiny_us_per_step"] = timed(lambda: m.fit(x, y, batch_size=32, epochs=1, verbose=0), 15) / 282 * 1e6
# case 2: the MLP at batch 32/128/1024 on 12000 rows
xm = rng.random((12000, 784), dtype=np.float32)
ym = rng.integers(0, 10, 12000)
for batch in (32, 128, 1024):
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(256, activation="relu"),
                          layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    m.fit(xm[:1024], ym[:1024], batch_size=batch, epochs=1, verbose=0)
    out[f"mlp_b{batch}_s"] = timed(lambda: m.fit(xm, ym, batch_size=batch, epochs=1, verbose=0), 5)
# case 4: predict 12000 rows and one-row latency
out["predict_s"] = timed(lambda: m.predict(xm, batch_size=1024, verbose=0), 5)
row = xm[:1]
out["one_row_us"] = timed(lambda: [m(row) for _ in range(1000)], 5) * 1e3
# case 6: digits 64-64-10, Adam, batch 32, 5 epochs
from sklearn.datasets import load_digits
d = load_digits(); xd = (d.data / 16).astype(np.float32); yd = d.target
keras.utils.set_random_seed(0)
m = keras.Sequential([keras.Input(shape=(64,)), layers.Dense(64, activation="relu"),
                      layers.Dense(10, activation="softmax")])
m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
out["digits_5_epochs_s"] = timed(lambda: m.fit(xd, yd, batch_size=32, epochs=5, verbose=0), 5)
if "--custom" in sys.argv:
    from npkeras import ops

    class OpsDense(keras.layers.Layer):
        def __init__(self, units, activation=None):
            super().__init__()
            self.units, self.relu = units, activation == "relu"

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units))
            self.bias = self.add_weight(shape=(self.units,), initializer="zeros")

        def call(self, inputs):
            z = ops.matmul(inputs, self.kernel) + self.bias
            return ops.relu(z) if self.relu else z

    for name, dense in (("builtin", layers.Dense), ("ops", OpsDense)):
        keras.utils.set_random_seed(0)
        m = keras.Sequential([keras.Input(shape=(784,)), dense(256, activation="relu"),
                              dense(128, activation="relu"), layers.Dense(10, activation="softmax")])
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        m.fit(xm[:1024], ym[:1024], batch_size=128, epochs=1, verbose=0)
        out[f"custom_{name}_b128_s"] = timed(lambda: m.fit(xm, ym, batch_size=128, epochs=1, verbose=0), 5)
print(json.dumps(out))
"""


def run(src, custom):
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    }
    env["PYTHONPATH"] = src
    args = [sys.executable, "-c", WORKLOAD] + (["--custom"] if custom else [])
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--against", required=True, help="another npkeras checkout")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    sources = {"this": os.path.join(HERE, "..", "src"), "other": os.path.join(args.against, "src")}
    samples: dict = {name: {} for name in sources}
    for round_ in range(args.rounds):
        order = list(sources) if round_ % 2 == 0 else list(reversed(sources))
        for name in order:
            result = run(sources[name], custom=name == "this")
            for key, value in result.items():
                samples[name].setdefault(key, []).append(value)
    print(f"{'workload':<24}{'this':>12}{'other':>12}{'this/other':>12}")
    for key in samples["this"]:
        this = statistics.median(samples["this"][key])
        other = samples["other"].get(key)
        other = statistics.median(other) if other else None
        ratio = f"{this / other:12.3f}" if other else f"{'':>12}"
        print(f"{key:<24}{this:12.4g}{(other or float('nan')):12.4g}{ratio}")
    if "custom_ops_b128_s" in samples["this"]:
        ops_time = statistics.median(samples["this"]["custom_ops_b128_s"])
        builtin = statistics.median(samples["this"]["custom_builtin_b128_s"])
        print(f"custom ops Dense / built-in Dense at batch 128: {ops_time / builtin:.2f}")


if __name__ == "__main__":
    main()
