"""The step's elementwise pieces: each C kernel and BLAS shortcut against the NumPy
expression it replaces, on the shapes of the benchmark MLP (784-256-128-10).

    python bench/kernels.py           # best of 7 rounds, microseconds per call
    python bench/kernels.py --quick   # a few calls each (run by `make test`)

Like run.py it removes OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE first. Arrays stay in cache
between calls, so these are the costs without memory traffic from the rest of a step.
"""

from __future__ import annotations

import argparse
import os
import sys
import timeit

_FORCED_BLAS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if any(v in os.environ for v in _FORCED_BLAS) and __name__ == "__main__":
    os.execve(
        sys.executable,
        [sys.executable] + sys.argv,
        {k: v for k, v in os.environ.items() if k not in _FORCED_BLAS},
    )

import numpy as np  # noqa: E402

from npkeras import backend, optimizers  # noqa: E402


def _cases():
    """(name, uses the C kernels, npkeras's form, the NumPy form it replaces)."""
    rng = np.random.default_rng(0)
    f32 = np.float32
    weights = 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    grad = rng.standard_normal(weights).astype(f32)
    adam = {}
    for name in ("kernel", "numpy"):
        opt, w = optimizers.Adam(1e-3), np.zeros(weights, f32)
        opt.apply_flat(grad, w)
        adam[name] = (opt, w)
    hidden = rng.standard_normal((1024, 256)).astype(f32)
    bias = rng.standard_normal(256).astype(f32)
    upstream = rng.standard_normal((1024, 256)).astype(f32)
    logits = rng.standard_normal((1024, 10)).astype(f32)
    out = np.empty(256, f32)
    x_small, w_small = (
        rng.standard_normal((32, 3)).astype(f32),
        rng.standard_normal((3, 4)).astype(f32),
    )
    dz_small, out_small = rng.standard_normal((32, 4)).astype(f32), np.empty((3, 4), f32)
    z = hidden.copy()

    def numpy_adam():
        kernels, backend.kernels = backend.kernels, None
        try:
            adam["numpy"][0].apply_flat(grad, adam["numpy"][1])
        finally:
            backend.kernels = kernels

    def numpy_bias_relu():
        z[...] = hidden
        np.add(z, bias, out=z)
        np.maximum(z, 0, out=z)

    def kernel_bias_relu():
        z[...] = hidden
        backend.kernels.bias_relu(z, bias)

    cases = [
        (
            f"Adam step, {weights} weights",
            True,
            lambda: adam["kernel"][0].apply_flat(grad, adam["kernel"][1]),
            numpy_adam,
        ),
        ("bias + relu, 1024 x 256 (with a copy)", True, kernel_bias_relu, numpy_bias_relu),
        (
            "relu gradient, 1024 x 256",
            True,
            lambda: backend.kernels.relu_grad(upstream, hidden, np.empty_like(upstream)),
            lambda: upstream * (hidden > 0),
        ),
        (
            "softmax row max, 1024 x 10",
            True,
            lambda: backend.reduce_max(logits),
            lambda: logits.max(axis=-1, keepdims=True),
        ),
        (
            "softmax row sum, 1024 x 10",
            False,
            lambda: backend.reduce_sum(logits),
            lambda: logits.sum(axis=-1, keepdims=True),
        ),
        (
            "bias gradient, 1024 x 256",
            False,
            lambda: backend.column_sum(upstream, out=out),
            lambda: np.add.reduce(upstream, axis=0, out=out),
        ),
        (
            "x.T @ dz into out, 32 x 3 and 32 x 4",
            False,
            lambda: np.dot(x_small.T, dz_small, out=out_small),
            lambda: np.matmul(x_small.T, dz_small, out=out_small),
        ),
        (
            "x @ W, 32 x 3 and 3 x 4",
            False,
            lambda: np.dot(x_small, w_small),
            lambda: x_small @ w_small,
        ),
    ]
    return [c for c in cases if backend.kernels is not None or not c[1]]


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a few calls each")
    args = parser.parse_args(argv)
    number, rounds = (3, 1) if args.quick else (200, 7)
    print(f"{'piece':42} {'npkeras':>10} {'NumPy':>10}   (us per call, best of {rounds})")
    if backend.kernels is None:
        print("the C kernels are not built (or NPKERAS_KERNELS=0): their rows are left out")
    rows = []
    for name, _, ours, theirs in _cases():
        ours_us, theirs_us = (
            min(timeit.repeat(f, number=number, repeat=rounds)) / number * 1e6
            for f in (ours, theirs)
        )
        rows.append((name, ours_us, theirs_us))
        print(f"{name:42} {ours_us:10.1f} {theirs_us:10.1f}")
    return rows


if __name__ == "__main__":
    main()
