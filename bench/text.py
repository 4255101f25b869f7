"""The text classifier of case 8 for each library: ids (batch, 200) -> Embedding(20000, 32)
-> GlobalAveragePooling1D -> Dense(1, sigmoid), binary cross-entropy, Adam (dense, as
Keras and ``torch.optim.Adam`` on a ``sparse=False`` embedding), batch 64.

Each peer has ``build(seed)`` and ``train_epoch(x, y, batch_size)`` with ``x`` int32 ids
of shape ``(n, 200)`` and float32 labels ``y`` of shape ``(n,)``.
"""

from __future__ import annotations

import numpy as np

VOCAB, DIM, LENGTH = 20_000, 32, 200


class KerasApiText:
    """npkeras, or Keras 3 with the same script."""

    def __init__(self, name, module):
        self.name, self.keras = name, module

    def build(self, seed):
        keras = self.keras
        keras.utils.set_random_seed(seed)
        layers = keras.layers
        self.model = keras.Sequential(
            [
                keras.Input(shape=(LENGTH,), dtype="int32"),
                layers.Embedding(VOCAB, DIM),
                layers.GlobalAveragePooling1D(),
                layers.Dense(1, activation="sigmoid"),
            ]
        )
        self.model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")

    def train_epoch(self, x, y, batch_size):
        self.model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=True, verbose=0)


class TorchText:
    """PyTorch eager: nn.Embedding (dense gradient), mean over time, nn.Linear, and
    BCEWithLogitsLoss (the sigmoid fused into the loss, as Keras fuses it too)."""

    name = "torch"

    def __init__(self, torch):
        self.torch = torch

    def build(self, seed):
        torch, nn = self.torch, self.torch.nn
        torch.manual_seed(seed)
        self.embedding = nn.Embedding(VOCAB, DIM)
        self.dense = nn.Linear(DIM, 1)
        params = list(self.embedding.parameters()) + list(self.dense.parameters())
        self.opt = torch.optim.Adam(params, lr=1e-3)
        self.loss = nn.BCEWithLogitsLoss()

    def train_epoch(self, x, y, batch_size):
        torch = self.torch
        xt = torch.from_numpy(x.astype(np.int64))
        yt = torch.from_numpy(y)
        order = torch.randperm(len(x))
        for start in range(0, len(x), batch_size):
            index = order[start : start + batch_size]
            self.opt.zero_grad(set_to_none=True)
            logits = self.dense(self.embedding(xt[index]).mean(dim=1))[:, 0]
            self.loss(logits, yt[index]).backward()
            self.opt.step()


def text_peers(peers):
    """The text-classifier twins of the available peers (npkeras, torch, keras-jax)."""
    twins = []
    for peer in peers:
        if peer.name in ("npkeras", "keras-jax"):
            twins.append(KerasApiText(peer.name, peer.keras))
        elif peer.name == "torch":
            twins.append(TorchText(peer.torch))
    return twins


def text_data(n, seed=0):
    """Uniform ids and a label that depends on them (the mean id parity of the first 10)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, VOCAB, (n, LENGTH)).astype(np.int32)
    y = (x[:, :10] % 2).mean(axis=1).round().astype(np.float32)
    return x, y
