"""``keras.ops.nn``: activations, softmax, one-hot and the cross-entropies, with VJPs.

The activations reuse :mod:`npkeras.activations`, whose objects already pair each
function with its derivative (``grad(dy, x, y)``); the cross-entropies are written with
the NumPy-like ops, so their gradients come from those ops' VJPs.

>>> from npkeras import ops
>>> ops.nn.relu6([-1.0, 3.0, 9.0]).tolist()
[0.0, 3.0, 6.0]
"""

from __future__ import annotations

from npkeras import activations, backend
from npkeras.backend import xp
from npkeras.ops.core import _a, _float, keras_op
from npkeras.ops.linalg import norm
from npkeras.ops.math import (
    absolute,
    add,
    clip,
    divide,
    exp,
    log,
    log1p,
    maximum,
    multiply,
    negative,
    square,
    subtract,
)
from npkeras.ops.reduce import mean, sum
from npkeras.ops.shape import squeeze
from npkeras.ops.tape import record

__all__ = [
    "binary_crossentropy",
    "categorical_crossentropy",
    "elu",
    "exponential",
    "gelu",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "leaky_relu",
    "log_sigmoid",
    "log_softmax",
    "moments",
    "multi_hot",
    "normalize",
    "one_hot",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "sparse_categorical_crossentropy",
    "swish",
    "tanh",
]


def _apply(activation, x):
    """``activation(x)`` recorded with the activation's own derivative."""
    a = _float(x)
    y = activation(a)
    return record(y, (x,), lambda dy: (activation.grad(dy, a, y),))


def _activation_op(activation):
    def op(x):
        return _apply(activation, x)

    op.__name__ = op.__qualname__ = activation.name
    op.__doc__ = f"The ``{activation.name}`` activation, elementwise."
    return keras_op(op)


relu = _activation_op(activations.relu)
selu = _activation_op(activations.selu)
sigmoid = _activation_op(activations.sigmoid)
tanh = _activation_op(activations.tanh)
softplus = _activation_op(activations.softplus)
softsign = _activation_op(activations.softsign)
silu = _activation_op(activations.silu)
swish = silu
hard_sigmoid = _activation_op(activations.hard_sigmoid)
exponential = _activation_op(activations.exponential)


@keras_op
def relu6(x):
    """``min(max(x, 0), 6)``."""
    a = _float(x)
    y = xp.clip(a, 0, 6)
    return record(y, (x,), lambda dy: (dy * ((a > 0) & (a < 6)),))


@keras_op
def leaky_relu(x, negative_slope=0.2):
    """``x`` where positive, ``negative_slope * x`` elsewhere."""
    return _apply(activations.LeakyReLU(negative_slope), x)


@keras_op
def elu(x, alpha=1.0):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""
    return _apply(activations.ELU(alpha), x)


@keras_op
def gelu(x, approximate=True):
    """Gaussian error linear unit; Keras's ops default is the tanh approximation."""
    return _apply(activations.GELU(approximate), x)


@keras_op
def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis``."""
    return _apply(activations.Softmax(axis), x)


@keras_op
def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` along ``axis``."""
    return _apply(activations.LogSoftmax(axis), x)


@keras_op
def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """Integer labels as one-hot vectors along a new ``axis`` (labels outside
    ``[0, num_classes)`` give a row of zeros, as in Keras)."""
    labels = _a(x).astype("int64")
    out = (labels[..., None] == xp.arange(num_classes)).astype(dtype or backend.floatx())
    return out if axis == -1 else xp.moveaxis(out, -1, axis)


@keras_op
def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False):
    """Each row of integer labels as one vector with a 1 at every label it holds (the
    last axis of ``inputs`` is the set of labels)."""
    if num_classes is None:
        raise ValueError("ops.multi_hot: `num_classes` is required; received None.")
    labels = _a(inputs).astype("int64")
    out = (labels[..., None] == xp.arange(num_classes)).any(axis=-2)
    out = out.astype(dtype or backend.floatx())
    return out if axis == -1 else xp.moveaxis(out, -1, axis)


@keras_op
def moments(x, axes, keepdims=False, synchronized=False):
    """Mean and (population) variance over ``axes``."""
    axes = (axes,) if isinstance(axes, int) else tuple(axes)
    m = mean(x, axis=axes, keepdims=True)
    v = mean(square(subtract(x, m)), axis=axes, keepdims=keepdims)
    return (m if keepdims else squeeze(m, axis=axes)), v


@keras_op
def normalize(x, axis=-1, order=2, epsilon=None):
    """``x / max(norm(x), epsilon)`` along ``axis`` (``epsilon`` defaults to
    ``keras.backend.epsilon()``)."""
    n = norm(x, ord=order, axis=axis, keepdims=True)
    return divide(x, maximum(n, backend.epsilon() if epsilon is None else epsilon))


@keras_op
def binary_crossentropy(target, output, from_logits=False):
    """Elementwise binary cross-entropy (no reduction)."""
    y = _float(target)
    if from_logits:  # max(z, 0) - z y + log(1 + e^-|z|): no overflow for large |z|
        return add(
            subtract(relu(output), multiply(output, y)), log1p(exp(negative(absolute(output))))
        )
    eps = backend.epsilon()
    p = clip(output, eps, 1.0 - eps)
    return negative(add(multiply(y, log(p)), multiply(subtract(1.0, y), log(subtract(1.0, p)))))


@keras_op
def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Per-sample categorical cross-entropy over ``axis`` (no reduction); probabilities
    are rescaled to sum to 1 first, as Keras does."""
    y = _float(target)
    if from_logits:
        return negative(sum(multiply(y, log_softmax(output, axis=axis)), axis=axis))
    eps = backend.epsilon()
    p = clip(divide(output, sum(output, axis=axis, keepdims=True)), eps, 1.0 - eps)
    return negative(sum(multiply(y, log(p)), axis=axis))


@keras_op
def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Per-sample cross-entropy from integer labels (no reduction)."""
    labels = _a(target)
    rank = xp.ndim(_a(output))
    classes = xp.shape(_a(output))[axis]
    if labels.ndim == rank:
        labels = xp.squeeze(labels, axis=axis)
    if labels.ndim != rank - 1:
        raise ValueError(
            f"ops.sparse_categorical_crossentropy: `target` must have one axis fewer than "
            f"`output` (or a size-1 class axis); received target shape {_a(target).shape} "
            f"and output shape {_a(output).shape}."
        )
    hot = one_hot(labels, classes, axis=axis, dtype=_float(output).dtype)
    return categorical_crossentropy(hot, output, from_logits=from_logits, axis=axis)


@keras_op
def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, without overflow."""
    a = _float(x)
    y = -xp.logaddexp(0.0, -a)
    # d/dx log(sigmoid(x)) = 1 - sigmoid(x) = sigmoid(-x)
    return record(y, (x,), lambda dy: (dy * 0.5 * (1.0 - xp.tanh(0.5 * a)),))


@keras_op
def hard_silu(x):
    """``x * hard_sigmoid(x) = x * relu6(x + 3) / 6`` (also called hard_swish)."""
    a = _float(x)
    gate = xp.clip(a / 6.0 + 0.5, 0.0, 1.0)
    slope = ((a > -3.0) & (a < 3.0)) / 6.0
    return record(a * gate, (x,), lambda dy: (dy * (gate + a * slope),))


hard_swish = hard_silu
