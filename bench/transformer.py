"""One Transformer encoder block, npkeras against PyTorch (and Keras-JAX when installed).

The block: MultiHeadAttention (4 heads, d_model 64) + residual + LayerNorm, feed-forward
256 (relu) + residual + LayerNorm (post-norm, dropout 0), then the mean over time and
Dense(10); sequences of 128 x 64, N=2048, batch 32, Adam, sparse categorical
cross-entropy. PyTorch runs ``nn.TransformerEncoderLayer`` (its fused fast path is for
inference only; training takes the ordinary autograd path). Seconds per epoch, the
libraries interleaved as in ``bench/run.py``.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=src \
        .venv/bin/python bench/transformer.py [--repeats 5] [--quick] [--threads 1 --clock cpu]

``--clock cpu`` times CPU time (``time.process_time``; with ``--threads 1`` the figure
least moved by other work on a shared machine); ``--memory`` runs one epoch of each
library in a fresh process and prints its peak resident memory (VmHWM).
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import time

if __name__ == "__main__":
    if "--threads" in sys.argv[:-1]:
        # BLAS (and npkeras's one-thread product choices) read the thread count when NumPy
        # loads
        os.environ["OPENBLAS_NUM_THREADS"] = sys.argv[sys.argv.index("--threads") + 1]
    # npkeras before NumPy, as a program starting with `import npkeras` loads them:
    # OpenBLAS reads its idle-thread setting as it loads, which npkeras's backend chooses
    importlib.import_module("npkeras")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import cases  # noqa: E402

SEQ, D_MODEL, HEADS, FF, CLASSES, N, BATCH = 128, 64, 4, 256, 10, 2048, 32


def data(n):
    rng = np.random.default_rng(0)
    return (
        rng.standard_normal((n, SEQ, D_MODEL)).astype(np.float32),
        rng.integers(0, CLASSES, n).astype(np.int64),
    )


def keras_block_model(keras):
    """The block written as a Keras 3 program (run by npkeras and by Keras itself)."""
    layers = keras.layers
    inp = keras.Input((SEQ, D_MODEL))
    attended = layers.MultiHeadAttention(HEADS, D_MODEL // HEADS)(inp, inp)
    x = layers.LayerNormalization(epsilon=1e-5)(layers.Add()([inp, attended]))
    hidden = layers.Dense(FF, activation="relu")(x)
    x = layers.LayerNormalization(epsilon=1e-5)(layers.Add()([x, layers.Dense(D_MODEL)(hidden)]))
    pooled = _average_over_time(keras)(x)
    model = keras.Model(inp, layers.Dense(CLASSES)(pooled))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def _average_over_time(keras):
    if hasattr(keras.layers, "GlobalAveragePooling1D"):
        return keras.layers.GlobalAveragePooling1D()
    from embedding import MeanOverTime  # npkeras before its pooling layers: the same math

    return MeanOverTime()


class KerasApi:
    def __init__(self, name, module):
        self.name, self.keras = name, module

    def build(self):
        self.keras.utils.set_random_seed(0)
        self.model = keras_block_model(self.keras)

    def train_epoch(self, x, y):
        self.model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=True)


class Torch:
    name = "torch"

    def __init__(self, threads):
        import torch

        torch.set_num_threads(threads)
        self.torch = torch

    def build(self):
        torch = self.torch
        torch.manual_seed(0)
        nn = torch.nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.block = nn.TransformerEncoderLayer(
                    D_MODEL, HEADS, FF, dropout=0.0, batch_first=True, norm_first=False
                )
                self.head = nn.Linear(D_MODEL, CLASSES)

            def forward(self, x):
                return self.head(self.block(x).mean(dim=1))

        self.model = Net()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss = nn.CrossEntropyLoss()

    def train_epoch(self, x, y):
        torch = self.torch
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        order = torch.randperm(len(x))
        self.model.train()
        for start in range(0, len(x), BATCH):
            index = order[start : start + BATCH]
            self.opt.zero_grad(set_to_none=True)
            self.loss(self.model(xt[index]), yt[index]).backward()
            self.opt.step()


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _peers(threads):
    import npkeras

    peers = [KerasApi("npkeras", npkeras)]
    try:
        peers.append(Torch(threads))
    except ImportError:
        print("torch not installed: skipped")
    return peers


def _vm_hwm_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024


def peak_memory(argv):
    """Each library's peak resident memory (VmHWM) over one epoch, in a fresh process."""
    peaks = {}
    for name in ("npkeras", "torch"):
        out = subprocess.run(
            [sys.executable, __file__, *argv, "--peak-of", name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        peaks[name] = float(out.split()[-1])
    print("Transformer block: peak memory of one epoch (VmHWM of a fresh process, data included)")
    for name, mb in peaks.items():
        print(f"  {name:8s} {mb:.0f} MB")
    print(f"  npkeras / torch: {peaks['npkeras'] / peaks['torch']:.2f}x")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="N=256, two repeats")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall")
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--peak-of", choices=("npkeras", "torch"), help=argparse.SUPPRESS)
    argv = sys.argv[1:]
    args = parser.parse_args(argv)
    os.environ.setdefault("NPKERAS_NUM_THREADS", str(args.threads))  # the attention pool
    try:  # NumPy is loaded already: limit its BLAS threads now
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
    except ImportError:
        print("threadpoolctl not installed: BLAS keeps its default thread count")
    if args.memory:
        peak_memory([a for a in argv if a != "--memory"])
        return
    peers = _peers(args.threads)
    if args.peak_of:
        peer = next(p for p in peers if p.name == args.peak_of)
        x, y = data(256 if args.quick else N)
        peer.build()
        peer.train_epoch(x, y)
        print(f"{_vm_hwm_mb():.1f}")
        return
    if os.environ.get("KERAS_BACKEND") == "jax":
        try:
            import keras

            peers.append(KerasApi("keras-jax", keras))
        except ImportError:
            print("keras/jax not installed: skipped")
    n = 256 if args.quick else N
    x, y = data(n)
    for peer in peers:
        peer.build()
    rows = cases.interleaved(
        peers,
        lambda p: p.train_epoch(x, y),
        2 if args.quick else args.repeats,
        clock=CLOCKS[args.clock],
    )
    outcome = {
        "case": "T",
        "unit": "seconds per epoch",
        "groups": {"": rows},
        "title": f"Transformer encoder block, seq {SEQ}, d_model {D_MODEL}, "
        f"{HEADS} heads, ff {FF}, N={n}, batch {BATCH}, Adam, {args.threads} threads, "
        f"{args.clock} time",
    }
    print(cases.format_case(outcome))
    if "torch" in rows:
        best = rows["npkeras"]["min"] / rows["torch"]["min"]
        median = rows["npkeras"]["median"] / rows["torch"]["median"]
        print(f"   npkeras / torch: best {best:.2f}x  median {median:.2f}x")


if __name__ == "__main__":
    main()
