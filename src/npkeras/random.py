"""``keras.random``: random tensors, seeded the Keras way.

Every function takes ``seed``:

- ``None`` (default): draw from the global generator (``keras.backend.rng()``), which
  ``keras.utils.set_random_seed`` reseeds, so whole programs are reproducible;
- an int: a fresh generator from that seed, so the same call gives the same values
  every time (as in Keras);
- a :class:`SeedGenerator`: its own generator, which advances with each draw, so
  successive calls differ but the sequence is reproducible.

>>> import npkeras as keras
>>> a = keras.random.normal((2,), seed=1)
>>> b = keras.random.normal((2,), seed=1)
>>> bool((a == b).all())
True
"""

from __future__ import annotations

from npkeras import backend
from npkeras.backend import xp
from npkeras.ops.core import _a, keras_op
from npkeras.ops.tape import record, value_of

__all__ = [
    "SeedGenerator",
    "categorical",
    "dropout",
    "normal",
    "randint",
    "shuffle",
    "truncated_normal",
    "uniform",
]


class SeedGenerator:
    """A random state of its own: each draw that takes it as ``seed`` advances it.

    Args:
        seed: an int for a reproducible sequence; None draws the starting point from the
            global generator (so ``keras.utils.set_random_seed`` fixes it too).
        name: a name, for messages.

    >>> import npkeras as keras
    >>> gen = keras.random.SeedGenerator(42)
    >>> first, second = keras.random.uniform((3,), seed=gen), keras.random.uniform((3,), seed=gen)
    >>> bool((first == second).all())
    False
    """

    def __init__(self, seed: int | None = None, name: str | None = None, **kwargs):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ValueError(
                f"SeedGenerator: `seed` must be a non-negative int or None; received seed={seed!r}."
            )
        if seed is None:
            seed = int(backend.rng().integers(2**31))
        self.seed = seed
        self.name = name or "seed_generator"
        self.generator = xp.random.default_rng(seed)

    def next(self, ordered: bool = True) -> int:
        """A fresh integer seed from this generator (advancing it)."""
        return int(self.generator.integers(2**31))

    def get_config(self) -> dict:
        return {"seed": self.seed, "name": self.name}

    def __repr__(self) -> str:
        return f"<SeedGenerator seed={self.seed}>"


def _generator(seed, name):
    """The generator a draw with ``seed`` uses (see the module docstring)."""
    if seed is None:
        return backend.rng()
    if isinstance(seed, SeedGenerator):
        return seed.generator
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(
            f"keras.random.{name}: `seed` must be None, a non-negative int or a "
            f"keras.random.SeedGenerator; received seed={seed!r}."
        )
    return xp.random.default_rng(seed)


def _float_dtype(dtype):
    return backend.floatx() if dtype is None else dtype


def _dims(shape):
    shape = value_of(shape)
    return (int(shape),) if xp.ndim(shape) == 0 else tuple(int(d) for d in shape)


@keras_op
def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples from a normal distribution ``N(mean, stddev**2)``."""
    rng = _generator(seed, "normal")
    draw = rng.standard_normal(_dims(shape))
    return (draw * stddev + mean).astype(_float_dtype(dtype))


@keras_op
def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Samples from the uniform distribution on ``[minval, maxval)``."""
    rng = _generator(seed, "uniform")
    return rng.uniform(minval, maxval, _dims(shape)).astype(_float_dtype(dtype))


@keras_op
def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples from ``N(mean, stddev**2)`` kept within two standard deviations of the
    mean (values beyond are drawn again, as in Keras)."""
    rng = _generator(seed, "truncated_normal")
    draw = rng.standard_normal(_dims(shape))
    outside = xp.abs(draw) > 2.0
    while outside.any():
        draw[outside] = rng.standard_normal(int(outside.sum()))
        outside = xp.abs(draw) > 2.0
    return (draw * stddev + mean).astype(_float_dtype(dtype))


@keras_op
def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Random integers from ``[minval, maxval)``."""
    rng = _generator(seed, "randint")
    return rng.integers(minval, maxval, _dims(shape)).astype(dtype)


@keras_op
def dropout(inputs, rate, noise_shape=None, seed=None):
    """``inputs`` with each element zeroed with probability ``rate`` and the others
    scaled by ``1 / (1 - rate)``, so the expected value is unchanged. ``noise_shape``
    (broadcastable to the input's shape) shares one draw along its size-1 axes."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"keras.random.dropout: `rate` must be in [0, 1); received rate={rate!r}.")
    a = _a(inputs)
    rng = _generator(seed, "dropout")
    mask_shape = (
        a.shape
        if noise_shape is None
        else tuple(a.shape[i] if d is None else int(d) for i, d in enumerate(noise_shape))
    )
    keep = rng.random(mask_shape) >= rate
    scale = (keep / (1.0 - rate)).astype(a.dtype)
    y = a * scale
    return record(y, (inputs,), lambda dy: (dy * scale,))


@keras_op
def shuffle(x, axis=0, seed=None):
    """``x`` with its slices along ``axis`` in a random order."""
    a = _a(x)
    order = _generator(seed, "shuffle").permutation(a.shape[axis])
    return xp.take(a, order, axis=axis)


@keras_op
def categorical(logits, num_samples, dtype="int32", seed=None):
    """``num_samples`` class indices per row of ``logits`` (``(batch, classes)``, each
    row unnormalised log-probabilities); returns ``(batch, num_samples)``."""
    z = _a(logits).astype("float64")
    if z.ndim != 2:
        raise ValueError(
            "keras.random.categorical: `logits` must have shape (batch_size, num_classes); "
            f"received shape {z.shape}."
        )
    rng = _generator(seed, "categorical")
    p = xp.exp(z - z.max(axis=1, keepdims=True))
    cumulative = xp.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    draws = rng.random((z.shape[0], int(num_samples)))
    # the first class whose cumulative probability exceeds the uniform draw
    picks = (draws[:, :, None] >= cumulative[:, None, :]).sum(axis=2)
    return xp.minimum(picks, z.shape[1] - 1).astype(dtype)
