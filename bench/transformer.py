"""One Transformer encoder block, npkeras against PyTorch (and Keras-JAX when installed).

The block: MultiHeadAttention (4 heads, d_model 64) + residual + LayerNorm, feed-forward
256 (relu) + residual + LayerNorm (post-norm, dropout 0), then the mean over time and
Dense(10); sequences of 128 x 64, N=2048, batch 32, Adam, sparse categorical
cross-entropy. PyTorch runs ``nn.TransformerEncoderLayer`` (its fused fast path is for
inference only; training takes the ordinary autograd path). Seconds per epoch, the
libraries interleaved as in ``bench/run.py``.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=src \
        .venv/bin/python bench/transformer.py [--repeats 5] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import cases

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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="N=256, two repeats")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    import npkeras

    peers = [KerasApi("npkeras", npkeras)]
    try:
        peers.append(Torch(args.threads))
    except ImportError:
        print("torch not installed: skipped")
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
        peers, lambda p: p.train_epoch(x, y), 2 if args.quick else args.repeats
    )
    outcome = {
        "case": "T",
        "unit": "seconds per epoch",
        "groups": {"": rows},
        "title": f"Transformer encoder block, seq {SEQ}, d_model {D_MODEL}, "
        f"{HEADS} heads, ff {FF}, N={n}, batch {BATCH}, Adam",
    }
    print(cases.format_case(outcome))


if __name__ == "__main__":
    main()
