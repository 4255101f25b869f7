"""Weight initializers with Keras names and defaults.

An initializer is called as ``init(shape, dtype)`` and returns a new array. Each draws
from the backend generator (seeded by ``npkeras.utils.set_random_seed``) unless it was
given its own ``seed``.

>>> from npkeras import initializers
>>> initializers.get("zeros")((2, 3)).shape
(2, 3)
"""

from __future__ import annotations

import contextlib
import math

from npkeras import backend
from npkeras.backend import xp
from npkeras.registry import resolve, serialize_object

# Keras rescales truncated-normal draws so the truncated distribution keeps the
# requested variance: stddev of N(0, 1) truncated to [-2, 2].
_TRUNCATED_STDDEV = 0.87962566103423978


def compute_fans(shape) -> tuple[float, float]:
    """(fan_in, fan_out) of a kernel shape; conv kernels multiply by the receptive field."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    if len(shape) == 2:
        return float(shape[0]), float(shape[1])
    receptive = math.prod(shape[:-2])
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


class Initializer:
    """Base class: subclasses define ``__call__(shape, dtype=None)``."""

    def __init__(self, seed: int | None = None):
        self.seed = seed
        self._rng = None if seed is None else backend.xp.random.default_rng(seed)

    @property
    def rng(self):
        return self._rng if self._rng is not None else backend.rng()

    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"seed": self.seed} if self.seed is not None else {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _truncated_normal(rng, shape, mean, stddev):
    """Normal draws with everything beyond two standard deviations redrawn."""
    out = rng.standard_normal(shape)
    bad = xp.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.standard_normal(int(backend.to_numpy(bad.sum())))
        bad = xp.abs(out) > 2.0
    return mean + stddev * out


class Zeros(Initializer):
    def __call__(self, shape, dtype=None):
        return xp.zeros(shape, dtype=dtype or backend.floatx())


class Ones(Initializer):
    def __call__(self, shape, dtype=None):
        return xp.ones(shape, dtype=dtype or backend.floatx())


class Constant(Initializer):
    def __init__(self, value: float = 0.0):
        super().__init__()
        self.value = float(value)

    def __call__(self, shape, dtype=None):
        return xp.full(shape, self.value, dtype=dtype or backend.floatx())

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape, dtype=None):
        out = self.mean + self.stddev * self.rng.standard_normal(shape)  # CuPy has no normal
        return out.astype(dtype or backend.floatx())

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class RandomUniform(Initializer):
    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.minval, self.maxval = float(minval), float(maxval)

    def __call__(self, shape, dtype=None):
        out = self.rng.uniform(self.minval, self.maxval, size=shape)
        return out.astype(dtype or backend.floatx())

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class TruncatedNormal(Initializer):
    """Normal draws, redrawn beyond two standard deviations from the mean."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape, dtype=None):
        out = _truncated_normal(self.rng, shape, self.mean, self.stddev)
        return out.astype(dtype or backend.floatx())

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class VarianceScaling(Initializer):
    """Draws with variance ``scale / n``, n the fan in, fan out or their average."""

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: int | None = None,
    ):
        super().__init__(seed)
        if scale <= 0:
            raise ValueError(f"`scale` must be positive; received scale={scale}.")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"Invalid `mode` {mode!r}; expected 'fan_in', 'fan_out' or 'fan_avg'.")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(
                f"Invalid `distribution` {distribution!r}; expected 'truncated_normal', "
                "'untruncated_normal' or 'uniform'."
            )
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            out = self.rng.uniform(-limit, limit, size=shape)
        elif self.distribution == "untruncated_normal":
            out = math.sqrt(variance) * self.rng.standard_normal(shape)
        else:
            out = _truncated_normal(self.rng, shape, 0.0, math.sqrt(variance) / _TRUNCATED_STDDEV)
        return out.astype(dtype or backend.floatx())

    def get_config(self):
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            **super().get_config(),
        }


def _variance_scaling_preset(name, scale, mode, distribution):
    def __init__(self, seed: int | None = None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self):
        return Initializer.get_config(self)

    doc = f"VarianceScaling(scale={scale}, mode={mode!r}, distribution={distribution!r})."
    return type(
        name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config, "__doc__": doc}
    )


GlorotUniform = _variance_scaling_preset("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _variance_scaling_preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _variance_scaling_preset("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _variance_scaling_preset("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _variance_scaling_preset("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _variance_scaling_preset("LecunNormal", 1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix from the QR decomposition of a normal draw, times ``gain``."""

    def __init__(self, gain: float = 1.0, seed: int | None = None):
        super().__init__(seed)
        self.gain = float(gain)

    def __call__(self, shape, dtype=None):
        if len(shape) < 2:
            raise ValueError(
                f"Orthogonal needs a shape of rank >= 2; received shape={tuple(shape)}."
            )
        rows, cols = math.prod(shape[:-1]), shape[-1]
        flat = self.rng.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = xp.linalg.qr(flat)
        q *= xp.sign(xp.diag(r))  # makes the draw uniform over orthogonal matrices
        if rows < cols:
            q = q.T
        # C order: q.T above is Fortran-ordered, and astype would keep that order
        return xp.ascontiguousarray(
            (self.gain * q[:rows, :cols]).reshape(shape), dtype=dtype or backend.floatx()
        )

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}


_CLASSES = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "random_normal": RandomNormal,
    "random_uniform": RandomUniform,
    "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "lecun_uniform": LecunUniform,
    "lecun_normal": LecunNormal,
    "orthogonal": Orthogonal,
}
#: Keras 3's short names (Embedding's default is "uniform": RandomUniform(-0.05, 0.05))
_ALIASES = {"uniform": "random_uniform", "normal": "random_normal", "zero": "zeros", "one": "ones"}


_skip_draws = False
_budget: list | None = None  # [elements still allowed] inside a bounded skipping_draws block


class WeightBudgetError(ValueError):
    """A weight created while loading is larger than what the saved file stores."""


@contextlib.contextmanager
def skipping_draws(max_elements: int | None = None):
    """Within the block, new weights start as zeros without drawing random numbers.

    Loading a saved model uses this: the saved values overwrite the weights anyway, and
    not drawing keeps the random stream where it was, so training resumes identically.
    ``max_elements`` caps the total number of scalars of the weights created in the
    block (a loader passes the count its file stores, so a config asking for
    ``units=10**9`` fails before anything is allocated).
    """
    global _skip_draws, _budget
    previous = _skip_draws, _budget
    _skip_draws, _budget = True, (None if max_elements is None else [int(max_elements)])
    try:
        yield
    finally:
        _skip_draws, _budget = previous


def draws_skipped() -> bool:
    return _skip_draws


def skipped_draw(shape: tuple, dtype):
    """The zeros ``add_weight`` creates instead of a draw inside :func:`skipping_draws`,
    counted against its ``max_elements`` before they are allocated."""
    if _budget is not None and all(d >= 0 for d in shape):
        size = math.prod(shape)
        if size > _budget[0]:
            raise WeightBudgetError(
                f"a weight of shape {shape} ({size:,} values) exceeds the {_budget[0]:,} "
                "values the file still holds for it"
            )
        _budget[0] -= size
    return xp.zeros(shape, dtype)


def get(identifier) -> Initializer:
    """An initializer from a name ('glorot_uniform'), an object or a config dict."""

    return resolve(identifier, "initializer", _CLASSES, Initializer, aliases=_ALIASES)


def serialize(initializer: Initializer) -> dict:

    return serialize_object(initializer)
