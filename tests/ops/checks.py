"""Shared checks for ops: random float64 inputs on a domain, and a finite-difference
check of every input's gradient through ``keras.GradientTape``."""

import numpy as np

from npkeras import GradientTape, ops
from npkeras.utils.gradcheck import numerical_gradient, relative_error

TOLERANCE = 1e-6


def make_input(shape, domain, rng):
    """A float64 array of ``shape`` whose values suit the op: 'real' (standard normal),
    'positive' (0.5..2), 'unit' (|x| < 0.9), 'away' (|x| in 0.5..2, random sign),
    'probability' (0.05..0.95)."""
    if domain == "positive":
        return rng.uniform(0.5, 2.0, shape)
    if domain == "unit":
        return rng.uniform(-0.9, 0.9, shape)
    if domain == "away":
        return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    if domain == "probability":
        return rng.uniform(0.05, 0.95, shape)
    return rng.standard_normal(shape)


def _outputs(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def check_op_gradients(fn, arrays, wrt=None, seed=0, tolerance=TOLERANCE):
    """Compare the tape's gradient of ``L = sum(fn(*arrays) * r)`` with central
    differences, for each input in ``wrt`` (all by default); returns the errors."""
    arrays = [np.array(a, dtype="float64") for a in arrays]
    wrt = range(len(arrays)) if wrt is None else wrt
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(np.shape(y)) for y in _outputs(fn(*arrays))]

    def loss_value():
        return float(sum(np.sum(np.asarray(y) * r) for y, r in zip(_outputs(fn(*arrays)), weights)))

    with GradientTape() as tape:
        inputs = [tape.watch(a) if i in wrt else a for i, a in enumerate(arrays)]
        terms = [ops.sum(ops.multiply(y, r)) for y, r in zip(_outputs(fn(*inputs)), weights)]
        loss = terms[0]
        for term in terms[1:]:
            loss = ops.add(loss, term)
    grads = tape.gradient(loss, [inputs[i] for i in wrt])
    errors = []
    for i, analytic in zip(wrt, grads):
        numeric = numerical_gradient(loss_value, arrays[i])
        analytic = np.zeros_like(numeric) if analytic is None else np.asarray(analytic)
        assert analytic.shape == arrays[i].shape, (analytic.shape, arrays[i].shape)
        error = relative_error(analytic, numeric)
        assert error < tolerance, f"input {i}: relative error {error:.2e}"
        errors.append(error)
    return errors
