"""``keras.ops.nn``: activations, softmax, one-hot and the cross-entropies, with VJPs.

The activations reuse :mod:`npkeras.activations`, whose objects already pair each
function with its derivative (``grad(dy, x, y)``); the cross-entropies reuse the loss
classes' per-sample values and gradients.
"""

from __future__ import annotations

from npkeras import activations, backend
from npkeras.backend import xp
from npkeras.ops.numpy import (_v, absolute, add, clip, divide, exp, log, log1p, maximum, mean,
                               multiply, negative, norm, square, subtract, sum)
from npkeras.ops.tape import record


def _activation_op(activation):
    def op(x):
        a = xp.asarray(_v(x))
        y = activation(a)
        return record(y, (x,), lambda dy: (activation.grad(dy, a, y),))
    op.__name__ = activation.name
    op.__doc__ = f"The ``{activation.name}`` activation, elementwise."
    return op


relu = _activation_op(activations.relu)
elu_default = _activation_op(activations.elu)
selu = _activation_op(activations.selu)
sigmoid = _activation_op(activations.sigmoid)
tanh = _activation_op(activations.tanh)
softplus = _activation_op(activations.softplus)
softsign = _activation_op(activations.softsign)
silu = swish = _activation_op(activations.silu)
hard_sigmoid = _activation_op(activations.hard_sigmoid)
exponential = _activation_op(activations.exponential)


def relu6(x):
    a = xp.asarray(_v(x))
    y = xp.clip(a, 0, 6)
    return record(y, (x,), lambda dy: (dy * ((a > 0) & (a < 6)),))


def leaky_relu(x, negative_slope=0.2):
    return _activation_op(activations.LeakyReLU(negative_slope))(x)


def elu(x, alpha=1.0):
    return _activation_op(activations.ELU(alpha))(x) if alpha != 1.0 else elu_default(x)


def gelu(x, approximate=True):
    return _activation_op(activations.GELU(approximate))(x)


def softmax(x, axis=-1):
    return _activation_op(activations.Softmax(axis))(x)


def log_softmax(x, axis=-1):
    return _activation_op(activations.LogSoftmax(axis))(x)


def one_hot(x, num_classes, axis=-1, dtype=None):
    labels = xp.asarray(_v(x)).astype("int64")
    out = (labels[..., None] == xp.arange(num_classes)).astype(dtype or backend.floatx())
    return out if axis == -1 else xp.moveaxis(out, -1, axis)


def multi_hot(inputs, num_classes, axis=-1, dtype=None):
    labels = xp.asarray(_v(inputs)).astype("int64")
    out = xp.zeros(labels.shape[:-1] + (num_classes,), dtype or backend.floatx())
    xp.put_along_axis(out, labels, 1, axis=-1)
    return out if axis == -1 else xp.moveaxis(out, -1, axis)


def moments(x, axes, keepdims=False, synchronized=False):
    """Mean and variance over ``axes``."""
    m = mean(x, axis=tuple(axes), keepdims=True)
    v = mean(square(subtract(x, m)), axis=tuple(axes), keepdims=keepdims)
    return (m if keepdims else mean(x, axis=tuple(axes))), v


def normalize(x, axis=-1, order=2, epsilon=None):
    n = norm(x, ord=order, axis=axis, keepdims=True)
    return divide(x, maximum(n, epsilon if epsilon is not None else backend.epsilon()))


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise binary cross-entropy (no reduction), as ``keras.ops.binary_crossentropy``."""
    y = _v(target)
    if from_logits:  # max(z, 0) - z y + log(1 + e^-|z|): no overflow for large |z|
        return add(subtract(relu(output), multiply(output, y)),
                   log1p(exp(negative(absolute(output)))))
    eps = backend.epsilon()
    p = clip(output, eps, 1.0 - eps)
    return negative(add(multiply(y, log(p)), multiply(subtract(1.0, y), log(subtract(1.0, p)))))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Per-sample categorical cross-entropy over ``axis`` (no reduction)."""
    y = _v(target)
    if from_logits:
        return negative(sum(multiply(y, log_softmax(output, axis=axis)), axis=axis))
    eps = backend.epsilon()
    p = clip(divide(output, sum(output, axis=axis, keepdims=True)), eps, 1.0 - eps)
    return negative(sum(multiply(y, log(p)), axis=axis))


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Per-sample cross-entropy from integer labels (no reduction)."""
    labels = xp.asarray(_v(target))
    classes = xp.shape(_v(output))[axis]
    if labels.ndim == xp.ndim(_v(output)):
        labels = xp.squeeze(labels, axis=axis)
    hot = one_hot(labels, classes, axis=axis, dtype=xp.asarray(_v(output)).dtype)
    return categorical_crossentropy(hot, output, from_logits=from_logits, axis=axis)
