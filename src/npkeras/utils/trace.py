"""One training step, made visible: ``model.trace_step(x, y)`` and ``npkeras trace``.

The step runs through the model's own training step (forward, loss, backward,
optimizer); every layer's ``forward`` and ``backward`` is watched for the duration of
that one call, and the weights, optimizer state and random generator are restored
afterwards, so tracing changes nothing. The report lists, layer by layer, the forward
pass (shapes, activation statistics, dead units) and then the backward pass in reverse
(dL/d(output), dL/dweight norms, the update the optimizer applied relative to the
weight, and the chain-rule formula that layer's ``backward`` evaluates).
"""

from __future__ import annotations

import math

from npkeras import backend, services
from npkeras.backend import to_numpy, xp
from npkeras.utils.plots import _finish, _pyplot

#: the formula each built-in layer's ``backward`` evaluates, by class name. A layer class
#: may carry its own ``chain_rule`` text attribute instead (custom layers: add one).
CHAIN_RULES = {
    "Dense": "dL/dz = dL/dy * {act}'(z); dL/dW = x.T @ dL/dz; dL/db = sum over rows of dL/dz; "
    "dL/dx = dL/dz @ W.T",
    "Activation": "dL/dx = dL/dy * {act}'(x)",
    "Dropout": "dL/dx = dL/dy * mask / (1 - rate)",
    "Flatten": "dL/dx = reshape(dL/dy, x.shape)",
    "Reshape": "dL/dx = reshape(dL/dy, x.shape)",
    "Normalization": "dL/dx = dL/dy / sqrt(variance)",
    "Add": "dL/dx_i = dL/dy for every input",
    "Subtract": "dL/dx_0 = dL/dy; dL/dx_1 = -dL/dy",
    "Multiply": "dL/dx_i = dL/dy * (product of the other inputs)",
    "Average": "dL/dx_i = dL/dy / n_inputs",
    "Maximum": "dL/dx_i = dL/dy where x_i is the largest, else 0",
    "Minimum": "dL/dx_i = dL/dy where x_i is the smallest, else 0",
    "Concatenate": "dL/dx_i = the slice of dL/dy that x_i filled",
    "Embedding": "dL/dE[i] = sum of dL/dy rows whose token is i",
    "Conv1D": "dL/dW = im2col(x).T @ dL/dz; dL/db = sum of dL/dz; dL/dx = col2im(dL/dz @ W.T)",
    "Conv2D": "dL/dW = im2col(x).T @ dL/dz; dL/db = sum of dL/dz; dL/dx = col2im(dL/dz @ W.T)",
    "MaxPooling1D": "dL/dx = dL/dy routed to the max of each window",
    "MaxPooling2D": "dL/dx = dL/dy routed to the max of each window",
    "AveragePooling2D": "dL/dx = dL/dy spread evenly over each window",
    "BatchNormalization": (
        "dL/dgamma = sum(dL/dy * x_hat); dL/dbeta = sum(dL/dy); "
        "dL/dx = gamma/sigma * (dL/dy - mean(dL/dy) - x_hat * mean(dL/dy * x_hat))"
    ),
    "LayerNormalization": (
        "dL/dx = gamma/sigma * (dL/dy - mean(dL/dy) - x_hat * mean(dL/dy * x_hat)), per sample"
    ),
    "SimpleRNN": "backpropagation through time: dL/dh_t = dL/dy_t + dL/dh_{t+1} @ U.T * tanh'",
    "LSTM": "backpropagation through time over the i, f, c, o gates",
    "GRU": "backpropagation through time over the z, r, h gates",
}
_FUSED = "dL/dz = dL/dy arrives already through {act} (fused with the loss: (y_pred - y_true) / n)"
_UNKNOWN = "(no formula recorded: give the layer class a `chain_rule` text attribute)"


def chain_rule(layer, fused: bool = False) -> str:
    """The chain-rule text of ``layer``'s backward (its class attribute, else the table)."""
    activation = getattr(getattr(layer, "activation", None), "name", "linear")
    text = getattr(type(layer), "chain_rule", None) or CHAIN_RULES.get(
        type(layer).__name__, _UNKNOWN
    )
    if fused:
        text = _FUSED + text[text.index(";") :] if ";" in text else _FUSED
    elif (
        activation == "linear"
        and type(layer).__name__ == "Dense"
        and "chain_rule" not in vars(type(layer))
    ):
        text = "dL/dz = dL/dy (linear);" + text[text.index(";") + 1 :]
    return text.format(act=activation)


def _arrays(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _shape(value):
    shapes = [tuple(int(d) for d in a.shape) for a in _arrays(value)]
    return shapes[0] if len(shapes) == 1 else shapes


def _norm(arrays) -> float:
    return math.sqrt(sum(backend.to_float(xp.vdot(a, a)) for a in arrays if a is not None))


def _unit_means(array):
    """Mean |value| of each unit (last axis) over the batch and any middle axes."""
    array = xp.asarray(array, dtype="float64")
    return xp.abs(array.reshape(-1, array.shape[-1]) if array.ndim else array.reshape(1, 1)).mean(
        axis=0
    )


def _forward_record(layer, x, y) -> dict:
    outputs = [xp.asarray(a, dtype="float64") for a in _arrays(y)]
    flat = xp.concatenate([a.ravel() for a in outputs])
    first = (
        outputs[0].reshape(-1, outputs[0].shape[-1])
        if outputs[0].ndim
        else outputs[0].reshape(1, 1)
    )
    return {
        "layer": layer.name,
        "class": type(layer).__name__,
        "input_shape": _shape(x),
        "output_shape": _shape(y),
        "activation_mean": backend.to_float(flat.mean()),
        "activation_std": backend.to_float(flat.std()),
        # a unit is dead on this batch when it outputs exactly 0 for every sample
        "dead_fraction": backend.to_float((first == 0).all(axis=0).mean()),
        "unit_activity": backend.to_numpy(_unit_means(first)).astype(float).tolist(),
        "input_activity": backend.to_numpy(_unit_means(_arrays(x)[0])).astype(float).tolist(),
    }


class _Watch:
    """Wraps every layer's ``forward``/``backward`` (as instance attributes, removed on
    exit) to record each call in order."""

    def __init__(self, layers):
        self.layers = layers
        self.forward, self.backward = [], []

    def __enter__(self):
        for layer in self.layers:
            layer.forward = self._watch_forward(layer, type(layer).forward.__get__(layer))
            layer.backward = self._watch_backward(layer, type(layer).backward.__get__(layer))
        return self

    def __exit__(self, *exc):
        for layer in self.layers:
            del layer.forward, layer.backward

    def _watch_forward(self, layer, forward):
        def watched(x, *args, **kwargs):
            y = forward(x, *args, **kwargs)
            self.forward.append(_forward_record(layer, x, y))
            return y

        return watched

    def _watch_backward(self, layer, backward):
        def watched(dy, *args, **kwargs):
            ctx = args[0] if args else kwargs.get("ctx")
            # the engine says "dy is already dL/dz" through the backward's context
            fused = bool(getattr(ctx, "fused_activation", False))
            record = {
                "layer": layer.name,
                "class": type(layer).__name__,
                "grad_output_norm": _norm(_arrays(dy)),
                "chain_rule": chain_rule(layer, fused),
            }
            dx = backward(dy, *args, **kwargs)
            record["grad_input_norm"] = None if dx is None else _norm(_arrays(dx))
            self.backward.append(record)
            return dx

        return watched


def _one_training_step(model, xs, ys, sws) -> float:
    """The model's own training step on one batch (forward, loss, backward, optimizer);
    returns the loss. The one call into the training engine besides ``_prepare_parameters``."""
    return model._training_step().train_batch(xs, ys, sws)[0]


def _trainable(layer) -> list:
    return [name for name in layer.params if layer._weight_is_trainable(name)]


@services.provide("trace_step")
def trace_step(
    model, x, y, sample_weight=None, verbose: int = 1, plot_path=None, print_fn=print
) -> dict:
    """Run one training step of a compiled model on ``(x, y)`` and report every layer.

    Nothing changes: weights, optimizer state and the random generator are restored.

    Returns:
        ``{"loss", "batch_size", "optimizer", "forward": [...], "backward": [...]}``.
        Each forward row (in call order): ``layer``, ``class``, ``input_shape``,
        ``output_shape``, ``activation_mean``, ``activation_std``, ``dead_fraction``
        (units that are 0 for every sample), ``unit_activity`` and ``input_activity``
        (mean |value| per unit of the output and of the input).
        Each backward row (reverse order): ``layer``, ``class``, ``grad_output_norm``
        (||dL/dy||), ``grad_input_norm``, ``grad_norms`` and ``weight_norms`` per weight
        (``{"kernel": ||dL/dW||, "bias": ||dL/db||}``), ``update_ratios`` per weight
        (||update|| / ||weight|| of this step; None for an all-zero weight),
        ``chain_rule`` (text) and, for 2-D kernels, ``kernel_grad`` (|dL/dW| as nested
        lists, for the picture).
    """
    model._require_compiled("trace_step")
    xs, ys, sws, n = model._arrays(x, y, sample_weight)
    if ys is None:
        raise ValueError("trace_step needs targets `y` to compute a loss and its gradients.")
    buf = model._prepare_parameters()  # also builds the optimizer, so its state can be saved
    layers = model._all_layers()
    weights = model.get_weights()
    optimizer = model.optimizer
    state = {k: xp.array(v, copy=True) for k, v in optimizer.get_state().items()}
    rng_state = backend.rng_state()
    keys = [(layer, name) for layer in layers for name in _trainable(layer)]
    before = {(layer.name, name): layer.params[name].astype("float64") for layer, name in keys}
    try:
        with _Watch(layers) as watch:
            loss = _one_training_step(model, xs, ys, sws)
        grads = {
            (layer.name, name): to_numpy(layer.grads[name]).astype("float64")
            for layer, name in keys
        }
        after = {(layer.name, name): layer.params[name].astype("float64") for layer, name in keys}
    finally:
        model.set_weights(weights)
        optimizer.set_state(state, [buf.params])
        backend.set_rng_state(rng_state)
    for record in watch.backward:
        names = [name for (owner, name) in grads if owner == record["layer"]]
        record["grad_norms"] = {name: _norm([grads[(record["layer"], name)]]) for name in names}
        record["weight_norms"] = {name: _norm([before[(record["layer"], name)]]) for name in names}
        # None where the weight is all zeros (a fresh bias): no ratio to speak of
        record["update_ratios"] = {
            name: _norm([after[(record["layer"], name)] - before[(record["layer"], name)]])
            / record["weight_norms"][name]
            if record["weight_norms"][name]
            else None
            for name in names
        }
        kernel = grads.get((record["layer"], "kernel"))
        if kernel is not None and kernel.ndim == 2:
            record["kernel_grad"] = backend.to_numpy(xp.abs(kernel)).tolist()
    trace = {
        "loss": backend.to_float(loss),
        "batch_size": int(n),
        "optimizer": f"{type(optimizer).__name__}(learning_rate={optimizer.learning_rate:g})",
        "forward": watch.forward,
        "backward": watch.backward,
    }
    if verbose:
        print_fn(format_trace(trace))
    if plot_path is not None:
        plot_trace(trace, path=plot_path)
    return trace


def _fmt_weights(values: dict) -> str:
    return (
        ", ".join(
            f"{name} " + ("n/a" if value is None else f"{value:.3e}")
            for name, value in values.items()
        )
        or "-"
    )


def format_trace(trace: dict) -> str:
    """The trace as text: a forward table, then a backward table with the formulas."""
    title = (
        f"One training step: batch {trace['batch_size']}, loss {trace['loss']:.6g}, "
        f"optimizer {trace['optimizer']}"
    )
    lines = [title, "", "Forward (input -> output)"]
    header = (
        f"  {'layer':<16}{'type':<14}{'input shape':<18}{'output shape':<18}"
        f"{'mean':>10}{'std':>10}{'dead':>7}"
    )
    lines += [header, "  " + "-" * (len(header) - 2)]
    for r in trace["forward"]:
        lines.append(
            f"  {r['layer']:<16}{r['class']:<14}{r['input_shape']!s:<18}"
            f"{r['output_shape']!s:<18}{r['activation_mean']:>10.4g}"
            f"{r['activation_std']:>10.4g}{r['dead_fraction']:>7.0%}"
        )
    lines += ["", "Backward (output -> input)"]
    header = f"  {'layer':<16}{'|dL/dy|':>11}  {'|dL/dweight|':<36}{'update / weight':<36}"
    lines += [header, "  " + "-" * (len(header) - 2)]
    for r in trace["backward"]:
        lines.append(
            f"  {r['layer']:<16}{r['grad_output_norm']:>11.4g}  "
            f"{_fmt_weights(r['grad_norms']):<36}{_fmt_weights(r['update_ratios']):<36}"
        )
        lines.append(f"  {'':<16}chain rule: {r['chain_rule']}")
    return "\n".join(lines)


def plot_trace(trace: dict, path=None, max_neurons: int = 24):
    """The step as a picture, in the style of ``plot_activations``: columns of neurons
    (inputs, then each Dense layer's units) shaded by mean |activation| on the batch,
    and edges weighted by |dL/dW| of that connection; each column is labelled with its
    ||dL/dW|| and the update-to-weight ratio."""

    plt = _pyplot()
    from matplotlib import cm, colors

    by_name = {r["layer"]: r for r in trace["backward"]}
    dense = [
        r
        for r in trace["forward"]
        if r["class"] == "Dense" and "kernel_grad" in by_name.get(r["layer"], {})
    ]
    if not dense:
        raise ValueError("plot_trace draws models with at least one trainable Dense layer.")
    columns = [dense[0]["input_activity"]] + [r["unit_activity"] for r in dense]
    for column, record in zip(columns, dense):
        if len(by_name[record["layer"]]["kernel_grad"]) != len(column):
            raise ValueError(
                "plot_trace draws chains of Dense layers, each feeding the next; "
                f"layer '{record['layer']}' does not take the previous column's outputs."
            )
    columns = [c[:max_neurons] for c in columns]
    relative = [[v / max(c) if max(c) > 0 else 0.0 for v in c] for c in columns]
    positions = [
        [(col, 1 - (i + 1) / (len(c) + 1)) for i in range(len(c))] for col, c in enumerate(columns)
    ]
    fig, ax = plt.subplots(figsize=(2.4 * len(columns) + 1.5, 5))
    ax.set_facecolor("#1b1b2f")
    edge_map = plt.get_cmap("plasma")
    for col, record in enumerate(dense):
        g = by_name[record["layer"]]["kernel_grad"]
        rows = [row[: len(positions[col + 1])] for row in g[: len(positions[col])]]
        top = max(max(row) for row in rows) or 1.0
        for i, (x0, y0) in enumerate(positions[col]):
            for j, (x1, y1) in enumerate(positions[col + 1]):
                share = rows[i][j] / top
                ax.plot(
                    [x0, x1],
                    [y0, y1],
                    color=edge_map(share),
                    alpha=0.2 + 0.8 * share,
                    linewidth=0.4 + 3.2 * share,
                    zorder=1,
                )
    gray = plt.get_cmap("gray")
    for col, rel in enumerate(relative):
        xs_, ys_ = zip(*positions[col])
        ax.scatter(
            xs_, ys_, s=480, c=rel, cmap=gray, vmin=0, vmax=1, edgecolors="#cccccc", zorder=2
        )
    labels = ["inputs"]
    for record in dense:
        b = by_name[record["layer"]]
        ratio = b["update_ratios"]["kernel"]
        labels.append(
            f"{record['layer']}\n|dL/dW| {b['grad_norms']['kernel']:.2g}\n"
            f"update/W {'n/a' if ratio is None else f'{ratio:.1e}'}"
        )
    ax.set_xlim(-0.6, len(columns) - 0.4)
    ax.set_ylim(0, 1)
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_yticks([])
    ax.set_title(
        f"One training step (loss {trace['loss']:.4g}): neurons = activation, edges = |dL/dW|"
    )
    fig.colorbar(
        cm.ScalarMappable(norm=colors.Normalize(0, 1), cmap=edge_map),
        ax=ax,
        label="|dL/dW| relative to the layer's largest",
    )
    fig.tight_layout()
    return _finish(fig, path)
