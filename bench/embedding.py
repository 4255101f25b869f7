"""Embedding gradient: npkeras's sparse scatter-add against dense-gradient references.

Text-classifier shapes: vocabulary 20,000 x 32, sequences of 200 ids, batch 64. Times one
batch's Embedding forward + backward (the gradient added into the layer's table), for:
  npkeras      sort the ids, ``add.reduceat`` per unique id, add into those rows only
  add.at       ``np.add.at`` into a dense zero (vocab, dim) temporary, then added
  bincount     one weighted ``np.bincount`` per column into a dense temporary
and one epoch of ``fit`` (N=20,000) of Embedding + mean over time + Dense(1).

    PYTHONPATH=src python bench/embedding.py [--zipf]
"""

from __future__ import annotations

import argparse
import timeit

import numpy as np

import npkeras as keras
from npkeras import layers

VOCAB, DIM, LENGTH, BATCH, N = 20_000, 32, 200, 64, 20_000


class MeanOverTime(layers.Layer):
    """(batch, time, dim) -> (batch, dim); GlobalAveragePooling1D's arithmetic."""

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def forward(self, x, training=False):
        self.cache = x.shape
        return x.mean(axis=1)

    def backward(self, dy, ctx=None):
        batch, steps, dim = self.cache
        return np.broadcast_to(dy[:, None, :] / steps, (batch, steps, dim))


def draw_ids(rng, shape, zipf):
    if zipf:  # word-frequency-like: a few ids repeat a lot
        return np.minimum(rng.zipf(1.3, size=shape), VOCAB - 1)
    return rng.integers(0, VOCAB, size=shape)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--zipf", action="store_true", help="Zipf-distributed ids, not uniform")
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    ids = draw_ids(rng, (BATCH, LENGTH), args.zipf)
    dy = rng.standard_normal((BATCH, LENGTH, DIM)).astype("float32")
    emb = layers.Embedding(VOCAB, DIM)
    emb(ids)
    table = emb.params["embeddings"]

    def npkeras_step():
        emb.forward(ids)
        emb.backward(dy)

    def add_at_step():
        np.take(table, ids, axis=0)
        dense = np.zeros_like(table)
        np.add.at(dense, ids.reshape(-1), dy.reshape(-1, DIM))
        emb.grads["embeddings"] += dense

    def bincount_step():
        np.take(table, ids, axis=0)
        flat_ids, rows = ids.reshape(-1), dy.reshape(-1, DIM)
        dense = np.stack(
            [np.bincount(flat_ids, rows[:, j], minlength=VOCAB) for j in range(DIM)], 1
        )
        emb.grads["embeddings"] += dense

    print(
        f"ids: {'zipf(1.3)' if args.zipf else 'uniform'}, {np.unique(ids).size} unique of "
        f"{ids.size} per batch; vocab {VOCAB} x {DIM}, batch {BATCH} x {LENGTH}"
    )
    steps = {"npkeras": npkeras_step, "add.at": add_at_step, "bincount": bincount_step}
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(args.repeats):  # interleaved, so machine load hits every variant alike
        for name, step in steps.items():
            best[name] = min(best[name], timeit.timeit(step, number=1))
    for name, seconds in best.items():
        print(
            f"  {name:9s} forward+backward per batch: {seconds * 1e3:7.3f} ms "
            f"(best of {args.repeats})"
        )

    keras.utils.set_random_seed(0)
    x = draw_ids(rng, (N, LENGTH), args.zipf)
    y = (x[:, 0] % 2).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((LENGTH,)),
            layers.Embedding(VOCAB, DIM),
            MeanOverTime(),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x[: BATCH * 4], y[: BATCH * 4], batch_size=BATCH, epochs=1, verbose=0)  # warm-up
    seconds = min(
        timeit.repeat(
            lambda: model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0), number=1, repeat=3
        )
    )
    print(
        f"  one epoch of fit, N={N}, batch {BATCH}: {seconds:.2f} s "
        f"({seconds / -(-N // BATCH) * 1e3:.2f} ms per step, Adam over the whole table)"
    )


if __name__ == "__main__":
    main()
