"""Optional compiled update kernels (numba, ``pip install npkeras[fast]``).

At small batch sizes a training step is dominated by the optimizer's elementwise
passes over every weight: NumPy's Adam makes eleven passes, each reading and writing
the whole buffer. These kernels do the same arithmetic in one pass, compiled without
zero-division checks so the loop vectorises (about 1.5x faster than the NumPy passes
for a 235k-weight MLP on the benchmark machine).

numba occupies about 150 MB once loaded, so it is loaded lazily and a model's
training step asks for the kernels only at batch sizes up to :data:`MAX_BATCH_SIZE`,
where they save 10-20% of a step; above that the saving is a few percent. The pure-NumPy path stays, tested,
for everyone else. ``NPKERAS_FUSED=0`` turns the kernels off.
"""

from __future__ import annotations

import importlib.util
import math
import os

from npkeras import backend

MAX_BATCH_SIZE = 64

enabled = (backend.xp.__name__ == "numpy" and os.environ.get("NPKERAS_FUSED", "1") != "0"
           and importlib.util.find_spec("numba") is not None)

_kernels = None


def kernels():
    """(adam_update, sgd_momentum_update), compiled on first use (cached on disk)."""
    global _kernels
    if _kernels is None:
        _kernels = _compile()
    return _kernels


def _compile():
    import numba

    # error_model="numpy": no zero-division checks, so the loops vectorise
    jit = numba.njit(cache=True, nogil=True, error_model="numpy")

    @jit
    def adam_update(v, g, m, vel, vel_hat, alpha, beta_1, beta_2, epsilon, amsgrad):  # pragma: no cover
        one_minus_b1 = 1.0 - beta_1
        one_minus_b2 = 1.0 - beta_2
        for i in range(v.size):
            gi = g[i]
            mi = m[i] + (gi - m[i]) * one_minus_b1
            vi = vel[i] + (gi * gi - vel[i]) * one_minus_b2
            m[i] = mi
            vel[i] = vi
            if amsgrad:
                if vi > vel_hat[i]:
                    vel_hat[i] = vi
                vi = vel_hat[i]
            v[i] -= alpha * mi / (math.sqrt(vi) + epsilon)

    @jit
    def sgd_momentum_update(v, g, m, lr, momentum, nesterov):  # pragma: no cover
        for i in range(v.size):
            step = lr * g[i]
            mi = momentum * m[i] - step
            m[i] = mi
            if nesterov:
                v[i] += momentum * mi - step
            else:
                v[i] += mi

    return adam_update, sgd_momentum_update


def usable(optimizer, *arrays) -> bool:
    """True when ``optimizer`` may use the kernels on these flat, contiguous arrays."""
    return (enabled and optimizer.use_fused_kernels
            and all(a.ndim == 1 and a.flags.c_contiguous for a in arrays))
