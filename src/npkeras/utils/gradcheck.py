"""Finite-difference gradient checks for layers, activations and losses.

Use float64 (``npkeras.backend.set_floatx('float64')``): central differences with a
step of 1e-6 are accurate to about 1e-9 there, and meaningless in float32.
"""

from __future__ import annotations

from npkeras.backend import xp


def numerical_gradient(f, x, eps: float = 1e-6):
    """d f() / d x by central differences, perturbing ``x`` in place (restored after)."""
    grad = xp.zeros_like(x, dtype="float64")
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


def relative_error(a, b) -> float:
    """||a - b|| / max(||a||, ||b||), 0 when both are zero."""
    a, b = xp.asarray(a, dtype="float64"), xp.asarray(b, dtype="float64")
    scale = max(float(xp.linalg.norm(a)), float(xp.linalg.norm(b)))
    return 0.0 if scale == 0 else float(xp.linalg.norm(a - b)) / scale


def check_layer_gradients(layer, x, seed: int = 0, training: bool = False) -> dict:
    """Relative errors of dL/dx and every dL/dweight for ``L = sum(layer(x) * r)``.

    ``x`` is an array or a list of arrays (merge layers); r is a fixed random array.
    ``training`` is passed to every forward call (BatchNormalization's batch statistics).
    Integer inputs (indices) have no gradient and are skipped.
    Returns ``{"input": err, "input_1": err, ..., "kernel": err, ...}``.
    """
    inputs = x if isinstance(x, list) else [x]
    y = layer.forward(x, training=training)
    r = xp.random.default_rng(seed).standard_normal(y.shape)

    def loss():
        return float((layer.forward(x, training=training) * r).sum())

    layer.forward(x, training=training)
    layer.zero_grads()
    layer.input_grad_needed = True
    dx = layer.backward(r)
    dxs = dx if isinstance(dx, list) else [dx]
    errors = {}
    for i, (inp, analytic) in enumerate(zip(inputs, dxs)):
        if inp.dtype.kind in "biu":
            continue
        key = "input" if i == 0 else f"input_{i}"
        errors[key] = relative_error(analytic, numerical_gradient(loss, inp))
    for name, value in layer.params.items():
        if layer._weight_is_trainable(name):
            errors[name] = relative_error(layer.grads[name], numerical_gradient(loss, value))
    return errors


def check_loss_gradient(loss, y_true, y_pred, sample_weight=None) -> float:
    """Relative error of ``loss.value_and_grad``'s gradient against finite differences."""
    target = loss.prepare_targets(y_true, y_pred)
    _, analytic = loss.value_and_grad(target, y_pred, sample_weight)

    def f():
        return loss.value_and_grad(target, y_pred, sample_weight, need_grad=False)[0]

    return relative_error(analytic, numerical_gradient(f, y_pred))


def check_activation_gradient(activation, x, seed: int = 0) -> float:
    """Relative error of ``activation.grad`` for ``L = sum(activation(x) * r)``."""
    r = xp.random.default_rng(seed).standard_normal(x.shape)
    y = activation(x)
    analytic = activation.grad(r, x, y)
    return relative_error(analytic, numerical_gradient(lambda: float((activation(x) * r).sum()), x))


def check_model_gradients(model, x, y, sample_weight=None) -> float:
    """Relative error of a compiled model's weight gradients (loss, penalties, fused
    output activations, shared layers and all) against finite differences."""
    xs, ys, sws, _ = model._arrays(x, y, sample_weight)
    buf = model._prepare_parameters()
    model._compute_gradients(xs, ys, sws)
    analytic = buf.grads.copy()

    def loss():
        outs = model._forward(xs, training=True)
        total = model._losses_and_grads(ys, outs, sws, need_grad=False)[0]
        return total + model._penalties(add_grads=False)

    return relative_error(analytic, numerical_gradient(loss, buf.params))
