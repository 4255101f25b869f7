"""The libraries under test, each behind the same small interface.

Every peer builds an MLP from a list of layer sizes and activations, trains it for one
epoch with a given optimizer, batch size and loss (shuffling every epoch, keeping the
last partial batch), and predicts. Peers whose package is missing are skipped.
"""

from __future__ import annotations

import math

import numpy as np


class Peer:
    name = "peer"

    def build(self, sizes, hidden_activation, output, optimizer, lr, seed):
        """sizes: [in, h1, ..., out]; output: 'softmax' (sparse CE) or 'linear' (MSE)."""
        raise NotImplementedError

    def train_epoch(self, x, y, batch_size):
        raise NotImplementedError

    def predict(self, x, batch_size):
        raise NotImplementedError

    def predict_one(self, row):
        return self.predict(row, 1)


class KerasApiPeer(Peer):
    """A library with the Keras API: npkeras itself, or Keras 3 (same script, other module)."""

    name = "npkeras"

    def __init__(self, module=None):
        if module is None:
            import npkeras as module
        self.keras = module

    def build(self, sizes, hidden_activation, output, optimizer, lr, seed):
        keras = self.keras
        keras.utils.set_random_seed(seed)
        layers = [keras.Input(shape=(sizes[0],))]
        layers += [keras.layers.Dense(s, activation=hidden_activation) for s in sizes[1:-1]]
        layers.append(
            keras.layers.Dense(sizes[-1], activation="softmax" if output == "softmax" else None)
        )
        self.model = keras.Sequential(layers)
        opt = keras.optimizers.Adam(lr) if optimizer == "adam" else keras.optimizers.SGD(lr)
        loss = "sparse_categorical_crossentropy" if output == "softmax" else "mse"
        self.model.compile(optimizer=opt, loss=loss)

    def train_epoch(self, x, y, batch_size):
        self.model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=True, verbose=0)

    def predict(self, x, batch_size):
        return self.model.predict(x, batch_size=batch_size, verbose=0)

    def predict_one(self, row):
        return self.model(row)


class NumpyFloorPeer(Peer):
    """The same training step as the fewest NumPy operations: per layer one forward and
    (at most) two backward matrix products, relu masks, fused softmax + cross-entropy,
    and Adam in place. Nothing any NumPy library can avoid."""

    name = "numpy-floor"

    def build(self, sizes, hidden_activation, output, optimizer, lr, seed):
        assert hidden_activation == "relu"
        rng = np.random.default_rng(seed)
        self.w, self.b = [], []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            self.w.append(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32))
            self.b.append(np.zeros(fan_out, np.float32))
        self.params = self.w + self.b
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.tmp = [np.empty_like(p) for p in self.params]
        self.output, self.optimizer, self.lr, self.t = output, optimizer, lr, 0
        self.rng = rng

    def _step(self, xb, yb):
        hs = [xb]
        for i, (w, b) in enumerate(zip(self.w, self.b)):
            z = hs[-1] @ w
            z += b
            if i < len(self.w) - 1:
                np.maximum(z, 0, out=z)
            hs.append(z)
        out = hs[-1]
        n = len(xb)
        if self.output == "softmax":
            out -= out.max(axis=1, keepdims=True)
            np.exp(out, out=out)
            out /= out.sum(axis=1, keepdims=True)
            out[np.arange(n), yb] -= 1.0
            dz = out
        else:
            dz = out - yb
        dz *= (2.0 if self.output != "softmax" else 1.0) / n
        grads_w, grads_b = [None] * len(self.w), [None] * len(self.w)
        for i in range(len(self.w) - 1, -1, -1):
            grads_w[i] = hs[i].T @ dz
            grads_b[i] = dz.sum(axis=0)
            if i:
                dz = dz @ self.w[i].T
                dz *= hs[i] > 0
        self.t += 1
        grads = grads_w + grads_b
        if self.optimizer == "sgd":
            for p, g in zip(self.params, grads):
                g *= self.lr
                p -= g
            return
        alpha = self.lr * math.sqrt(1 - 0.999**self.t) / (1 - 0.9**self.t)
        for p, g, m, v, tmp in zip(self.params, grads, self.m, self.v, self.tmp):
            np.multiply(g, g, out=tmp)
            tmp *= 0.001  # (1 - beta_2) g^2
            v *= 0.999
            v += tmp
            g *= 0.1  # (1 - beta_1) g
            m *= 0.9
            m += g
            np.sqrt(v, out=tmp)
            tmp += 1e-7
            np.divide(m, tmp, out=tmp)
            tmp *= alpha
            p -= tmp

    def train_epoch(self, x, y, batch_size):
        order = self.rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            index = order[start : start + batch_size]
            self._step(x.take(index, axis=0), y.take(index, axis=0))

    def predict(self, x, batch_size):
        outs = []
        for start in range(0, len(x), batch_size):
            h = x[start : start + batch_size]
            for i, (w, b) in enumerate(zip(self.w, self.b)):
                h = h @ w
                h += b
                if i < len(self.w) - 1:
                    np.maximum(h, 0, out=h)
            outs.append(h)
        return np.concatenate(outs)


class MatmulFloorPeer(NumpyFloorPeer):
    """Only the matrix products of a training step: the floor under any implementation."""

    name = "matmul-floor"

    def _step(self, xb, yb):
        hs = [xb]
        for w in self.w:
            hs.append(hs[-1] @ w)
        dz = hs[-1]
        for i in range(len(self.w) - 1, -1, -1):
            hs[i].T @ dz
            if i:
                dz = dz @ self.w[i].T


class TorchPeer(Peer):
    name = "torch"

    def __init__(self, threads):
        import torch

        torch.set_num_threads(threads)
        self.torch = torch

    def build(self, sizes, hidden_activation, output, optimizer, lr, seed):
        torch = self.torch
        torch.manual_seed(seed)
        mods = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            mods.append(torch.nn.Linear(a, b))
            if i < len(sizes) - 2:
                mods.append(torch.nn.ReLU())
        self.model = torch.nn.Sequential(*mods)
        self.opt = (
            torch.optim.Adam(self.model.parameters(), lr=lr)
            if optimizer == "adam"
            else torch.optim.SGD(self.model.parameters(), lr=lr)
        )
        self.loss = torch.nn.CrossEntropyLoss() if output == "softmax" else torch.nn.MSELoss()
        self.output = output

    def train_epoch(self, x, y, batch_size):
        torch = self.torch
        xt = torch.from_numpy(x)
        yt = torch.from_numpy(y.astype(np.int64) if self.output == "softmax" else y)
        order = torch.randperm(len(x))
        self.model.train()
        for start in range(0, len(x), batch_size):
            index = order[start : start + batch_size]
            self.opt.zero_grad(set_to_none=True)
            self.loss(self.model(xt[index]), yt[index]).backward()
            self.opt.step()

    def predict(self, x, batch_size):
        torch = self.torch
        with torch.no_grad():
            xt = torch.from_numpy(x)
            out = torch.cat(
                [
                    torch.softmax(self.model(xt[s : s + batch_size]), 1)
                    if self.output == "softmax"
                    else self.model(xt[s : s + batch_size])
                    for s in range(0, len(x), batch_size)
                ]
            )
        return out.numpy()

    def predict_one(self, row):
        with self.torch.no_grad():
            return self.model(self.torch.from_numpy(row))


class KerasPeer(KerasApiPeer):
    name = "keras-jax"

    def __init__(self, threads):
        import keras

        super().__init__(keras)


def available_peers(threads, only=None):
    """Instances of every peer that imports, and {name: reason} for the skipped ones."""
    peers, skipped = [KerasApiPeer(), NumpyFloorPeer(), MatmulFloorPeer()], {}
    for cls in (TorchPeer, KerasPeer):
        if only and cls.name not in only:
            continue
        try:
            peers.append(cls(threads))
        except ImportError as err:
            skipped[cls.name] = f"not installed ({err.name})"
    return peers, skipped
