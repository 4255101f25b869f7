"""Optional compiled update kernels (numba, ``pip install npkeras[fast]``).

At small batch sizes a training step is dominated by the optimizer's elementwise
passes over every weight: NumPy's Adam makes eleven passes, each reading and writing
the whole buffer. These kernels do the same arithmetic in one pass, with no zero-division checks so the loop vectorises.
They are used automatically when numba is installed and the backend is NumPy; the
pure-NumPy path stays, tested, for everyone else. ``NPKERAS_FUSED=0`` turns them off.
"""

from __future__ import annotations

import math
import os

from npkeras import backend

try:  # numba is optional; without it the optimizers use their NumPy update
    import numba
except ImportError:  # pragma: no cover - depends on the environment
    numba = None

enabled = (numba is not None and backend.xp.__name__ == "numpy"
           and os.environ.get("NPKERAS_FUSED", "1") != "0")

if numba is not None:
    # error_model="numpy": no zero-division checks, so the loops vectorise
    _jit = numba.njit(cache=True, nogil=True, error_model="numpy")

    @_jit
    def adam_update(v, g, m, vel, vel_hat, alpha, beta_1, beta_2, epsilon, amsgrad):  # pragma: no cover - compiled
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

    @_jit
    def sgd_momentum_update(v, g, m, lr, momentum, nesterov):  # pragma: no cover - compiled
        for i in range(v.size):
            step = lr * g[i]
            mi = momentum * m[i] - step
            m[i] = mi
            if nesterov:
                v[i] += momentum * mi - step
            else:
                v[i] += mi
else:  # pragma: no cover - depends on the environment
    adam_update = sgd_momentum_update = None


def usable(*arrays) -> bool:
    """True when the kernels are on and every array is flat and contiguous."""
    return enabled and all(a.ndim == 1 and a.flags.c_contiguous for a in arrays)
