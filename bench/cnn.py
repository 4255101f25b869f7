"""The small CNN of case 7 for each library: 28x28x1 -> Conv2D(32, 3, relu) -> MaxPool 2
-> Conv2D(64, 3, relu) -> MaxPool 2 -> Flatten -> Dense(10, softmax), Adam, sparse CE.

Each peer has ``build(seed)`` and ``train_epoch(x, y, batch_size)`` with ``x`` of shape
``(n, 28, 28, 1)`` float32 (channels last) and integer labels ``y``.
"""

from __future__ import annotations

import numpy as np


class KerasApiCNN:
    """npkeras, or Keras 3 with the same script."""

    def __init__(self, name, module):
        self.name, self.keras = name, module

    def build(self, seed):
        keras = self.keras
        keras.utils.set_random_seed(seed)
        layers = keras.layers
        self.model = keras.Sequential(
            [
                keras.Input(shape=(28, 28, 1)),
                layers.Conv2D(32, 3, activation="relu"),
                layers.MaxPooling2D(2),
                layers.Conv2D(64, 3, activation="relu"),
                layers.MaxPooling2D(2),
                layers.Flatten(),
                layers.Dense(10, activation="softmax"),
            ]
        )
        self.model.compile(
            optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy"
        )

    def train_epoch(self, x, y, batch_size):
        self.model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=True, verbose=0)


class TorchCNN:
    """PyTorch eager in channels_last memory format (its fast CPU path for convolutions)."""

    name = "torch"

    def __init__(self, torch):
        self.torch = torch

    def build(self, seed):
        torch, nn = self.torch, self.torch.nn
        torch.manual_seed(seed)
        self.model = nn.Sequential(
            nn.Conv2d(1, 32, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(1600, 10),
        ).to(memory_format=torch.channels_last)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss = nn.CrossEntropyLoss()

    def train_epoch(self, x, y, batch_size):
        torch = self.torch
        xt = torch.from_numpy(x).permute(0, 3, 1, 2)  # NCHW view of NHWC memory: no copy
        yt = torch.from_numpy(y.astype(np.int64))
        order = torch.randperm(len(x))
        self.model.train()
        for start in range(0, len(x), batch_size):
            index = order[start : start + batch_size]
            batch = xt[index].contiguous(memory_format=torch.channels_last)
            self.opt.zero_grad(set_to_none=True)
            self.loss(self.model(batch), yt[index]).backward()
            self.opt.step()


class GemmFloorCNN:
    """Only the matrix products of an im2col training step (no im2col, pooling, relu,
    optimizer): conv1 forward and kernel gradient, conv2 forward, kernel and input
    gradients, Dense forward and both gradients."""

    name = "gemm-floor"

    def build(self, seed):
        self.rng = np.random.default_rng(seed)
        self._arrays = {}

    def _shapes(self, batch):
        rows1, rows2 = batch * 26 * 26, batch * 11 * 11
        return [
            ((rows1, 9), (9, 32)),
            ((9, rows1), (rows1, 32)),
            ((rows2, 288), (288, 64)),
            ((288, rows2), (rows2, 64)),
            ((rows2, 64), (64, 288)),
            ((batch, 1600), (1600, 10)),
            ((1600, batch), (batch, 10)),
            ((batch, 10), (10, 1600)),
        ]

    def _operands(self, batch):
        if batch not in self._arrays:
            pairs = []
            for a_shape, b_shape in self._shapes(batch):
                # the transposed operands are views of C-ordered arrays, as in a real step
                a = (
                    self.rng.random(a_shape[::-1], dtype=np.float32).T
                    if a_shape[0] < a_shape[1] and a_shape[0] in (9, 288, 1600)
                    else self.rng.random(a_shape, dtype=np.float32)
                )
                pairs.append((a, self.rng.random(b_shape, dtype=np.float32)))
            self._arrays[batch] = pairs
        return self._arrays[batch]

    def train_epoch(self, x, y, batch_size):
        for start in range(0, len(x), batch_size):
            for a, b in self._operands(min(batch_size, len(x) - start)):
                np.dot(a, b)


def cnn_peers(peers):
    """The CNN twins of the available MLP peers (npkeras, torch, keras-jax) plus the floor."""
    twins = []
    for peer in peers:
        if peer.name in ("npkeras", "keras-jax"):
            twins.append(KerasApiCNN(peer.name, peer.keras))
        elif peer.name == "torch":
            twins.append(TorchCNN(peer.torch))
    return twins + [GemmFloorCNN()]
