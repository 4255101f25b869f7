"""Finite-difference gradient checks for layers, activations and losses.

Use float64 (``npkeras.backend.set_floatx('float64')``): central differences with a
step of 1e-6 are accurate to about 1e-9 there, and meaningless in float32.
"""

from __future__ import annotations

from npkeras import backend, losses
from npkeras.backend import host_xp, to_float, to_numpy, xp


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
    scale = max(to_float(xp.linalg.norm(a)), to_float(xp.linalg.norm(b)))
    return 0.0 if scale == 0 else to_float(xp.linalg.norm(a - b)) / scale


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
        return to_float((layer.forward(x, training=training) * r).sum())

    layer.forward(x, training=training)
    for sublayer in layer._flatten_layers():
        sublayer.zero_grads()
    dx = layer.backward(r)
    dxs = dx if isinstance(dx, list) else [dx]
    errors = {}
    for i, (inp, analytic) in enumerate(zip(inputs, dxs)):
        if inp.dtype.kind in "biu":
            continue
        key = "input" if i == 0 else f"input_{i}"
        errors[key] = relative_error(analytic, numerical_gradient(loss, inp))
    for sublayer in layer._flatten_layers():
        prefix = "" if sublayer is layer else f"{sublayer.name}/"
        for name, value in sublayer.params.items():
            if sublayer._weight_is_trainable(name):
                errors[prefix + name] = relative_error(
                    sublayer.grads[name], numerical_gradient(loss, value)
                )
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
    return relative_error(
        analytic, numerical_gradient(lambda: to_float((activation(x) * r).sum()), x)
    )


def check_model_gradients(model, x, y, sample_weight=None) -> float:
    """Relative error of a compiled model's weight gradients (loss, penalties, fused
    output activations, shared layers and all) against finite differences."""
    xs, ys, sws, _ = model._arrays(x, y, sample_weight)
    step = model._training_step()
    buf = step.prepare()
    step.compute_gradients(xs, ys, sws)
    analytic = buf.grads.copy()

    def loss():
        outs = model._forward(xs, training=True)
        total = step.losses_and_grads(ys, outs, sws, need_grad=False)[0]
        return total + step.penalties(add_grads=False)

    return relative_error(analytic, numerical_gradient(loss, buf.params))


# -- the public checker: keras.utils.check_gradients ------------------------------------
class GradientCheck:
    """What :func:`check_gradients` found.

    Attributes:
        errors: relative error per checked array, ``{"input": e, "dense/kernel": e, ...}``.
        worst: the worst element of the worst array: ``{"name", "index", "analytic",
            "numeric"}``.
        tolerance: the relative error below which an array passes.
        passed: True when every error is below ``tolerance``.
        verdict: one line saying so, and where to look when it fails.
    """

    def __init__(self, errors: dict, worst: dict, tolerance: float):
        self.errors = errors
        self.worst = worst
        self.tolerance = tolerance
        self.passed = all(err < tolerance for err in errors.values())
        name = worst["name"]
        if self.passed:
            self.verdict = (
                f"OK: every gradient matches finite differences (worst relative "
                f"error {errors[name]:.2g}, in '{name}')."
            )
        else:
            failing = [key for key, err in errors.items() if err >= tolerance]
            self.verdict = (
                f"MISMATCH in {', '.join(repr(k) for k in failing)}: relative error "
                f"{errors[name]:.3g} in '{name}' (tolerance {tolerance:g}); worst element "
                f"{name}{list(worst['index'])}: backward gives {worst['analytic']:.6g}, finite "
                f"differences {worst['numeric']:.6g}. Check the backward's formula for dL/d{name}."
            )

    def __str__(self) -> str:
        width = max(len(k) for k in self.errors)
        rows = [
            f"{k:<{width}}  {err:.3e}" + ("" if err < self.tolerance else "  <-- mismatch")
            for k, err in self.errors.items()
        ]
        return "\n".join(rows + [self.verdict])

    def __repr__(self) -> str:
        return f"<GradientCheck passed={self.passed} worst={self.worst['name']!r}>"


class _Float64Copy:
    """Swaps every weight of ``layers`` for a float64 copy (and zeroed float64
    gradients) and sets floatx to float64; restores the originals on exit, so the
    user's weights, gradients and optimizer never see the check."""

    def __init__(self, layers):
        self.layers = layers

    def __enter__(self):

        self.floatx = backend.floatx()
        backend.set_floatx("float64")
        self.saved = [(dict(layer.params), dict(layer.grads)) for layer in self.layers]
        for layer in self.layers:
            for name, value in layer.params.items():
                layer.params[name] = xp.array(value, dtype="float64")
                layer.grads[name] = xp.zeros(value.shape, dtype="float64")
        return self

    def __exit__(self, *exc):

        for layer, (params, grads) in zip(self.layers, self.saved):
            layer.params.clear()
            layer.params.update(params)
            layer.grads.clear()
            layer.grads.update(grads)
        backend.set_floatx(self.floatx)


def _is_model(obj) -> bool:
    return hasattr(obj, "_forward") and hasattr(obj, "_all_layers")


def _worst_element(name, analytic, numeric) -> dict:
    diff = xp.abs(xp.asarray(analytic, dtype="float64") - numeric)
    flat = int(to_numpy(xp.argmax(diff))) if diff.size else 0
    index = tuple(int(i) for i in host_xp.unravel_index(flat, diff.shape)) if diff.size else ()
    return {
        "name": name,
        "index": index,
        "analytic": to_float(xp.asarray(analytic)[index]),
        "numeric": to_float(numeric[index]),
    }


def check_gradients(
    layer_or_model, x, y=None, eps: float = 1e-6, tolerance: float = 1e-6, seed: int = 0
) -> GradientCheck:
    """Check a layer's or model's hand-written backward against central finite differences.

    Runs in float64 on copies of the weights (the originals, their gradients and the
    floatx setting are restored after), so it is safe to call on a model in training.

    The scalar checked is ``L = sum(output * r)`` for a fixed random ``r`` when ``y`` is
    None; with ``y``, the model's compiled loss (mean squared error for a layer or an
    uncompiled model). Every trainable weight and the input(s) are checked.

    Args:
        layer_or_model: a built layer, or a model (Sequential or functional).
        x: input array (a list of arrays for several inputs); keep it small: the check
            runs two forward passes per input and weight element.
        y: optional targets.
        eps: finite-difference step.
        tolerance: largest relative error ``||a - n|| / max(||a||, ||n||)`` that passes.
        seed: seed of ``r``.

    Returns:
        A :class:`GradientCheck` with ``errors``, ``worst``, ``passed`` and ``verdict``;
        ``print()`` it for a table.

    >>> import numpy as np
    >>> import npkeras as keras
    >>> layer = keras.layers.Dense(2, activation="tanh")
    >>> _ = layer(np.zeros((1, 3)))
    >>> check_gradients(layer, np.random.default_rng(0).normal(size=(4, 3))).passed
    True
    """

    model = _is_model(layer_or_model)
    layers = layer_or_model._all_layers() if model else [layer_or_model]
    if not all(layer.built for layer in layers):
        raise ValueError(
            f"check_gradients needs a built {'model' if model else 'layer'}: call "
            f"'{layer_or_model.name}' on data (or build it) first so its weights exist."
        )
    single = not isinstance(x, (list, tuple))
    with _Float64Copy(layers):
        xs = [xp.array(v, dtype="float64") for v in ([x] if single else x)]

        def forward():
            if model:
                return layer_or_model._forward(xs, training=False)
            out = layer_or_model.forward(xs[0] if single else xs, training=False)
            return out if isinstance(out, list) else [out]

        outs = forward()
        if y is None:
            rng = xp.random.default_rng(seed)
            projections = [rng.standard_normal(o.shape) for o in outs]
            loss_fns = None
        else:
            ys = y if isinstance(y, (list, tuple)) and len(outs) > 1 else [y]
            compiled = model and getattr(layer_or_model, "compiled", False)
            mse = losses.MeanSquaredError()
            loss_fns = layer_or_model._compiled_losses if compiled else [mse] * len(outs)
            loss_weights = layer_or_model._loss_weights if compiled else [1.0] * len(outs)
            targets = [
                fn.prepare_targets(t, o) if fn is not None else None
                for fn, t, o in zip(loss_fns, ys, outs)
            ]

        def loss_and_grads(need_grad=True):
            outputs = forward()
            if loss_fns is None:
                return sum(
                    to_float((o * r).sum()) for o, r in zip(outputs, projections)
                ), projections
            total, grads = 0.0, []
            for fn, weight, target, out in zip(loss_fns, loss_weights, targets, outputs):
                if fn is None:
                    grads.append(None)
                    continue
                value, d = fn.value_and_grad(target, out, need_grad=need_grad)
                total += weight * value
                grads.append(None if d is None else d * weight)
            return total, grads

        _, dys = loss_and_grads()
        for layer in layers:
            layer.zero_grads()
        if model:
            dxs = layer_or_model._backward(dys, need_input_grads=True)
        else:
            dx = layer_or_model.backward(dys[0] if len(dys) == 1 else dys)
            dxs = dx if isinstance(dx, list) else [dx]

        def f():
            return loss_and_grads(need_grad=False)[0]

        checked = {}
        for i, (inp, analytic) in enumerate(zip(xs, dxs)):
            if analytic is None:  # the backward was told no one needs dL/dx
                continue
            checked["input" if i == 0 else f"input_{i}"] = (analytic, inp)
        for layer in layers:
            for name, value in layer.params.items():
                if layer._weight_is_trainable(name):
                    key = f"{layer.name}/{name}" if model else name
                    checked[key] = (layer.grads[name].copy(), value)
        errors, numeric = {}, {}
        for key, (analytic, array) in checked.items():
            numeric[key] = numerical_gradient(f, array, eps)
            errors[key] = relative_error(analytic, numeric[key])
    worst_key = max(errors, key=errors.get)
    worst = _worst_element(worst_key, checked[worst_key][0], numeric[worst_key])
    return GradientCheck(errors, worst, tolerance)
