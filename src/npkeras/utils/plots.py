"""Pictures of training and of networks (matplotlib, an optional extra:
``pip install npkeras[plot]``).

Each function returns a matplotlib Figure and saves it when given ``path``.
"""

from __future__ import annotations

from npkeras.backend import to_numpy, xp
from npkeras.layers.core import Dense
from npkeras.layers.input_layer import InputLayer
from npkeras.layers.node import format_shape


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            "Plotting needs matplotlib: install it with `pip install npkeras[plot]` "
            "(or `pip install matplotlib`)."
        ) from None
    return plt


def _finish(fig, path):
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def plot_history(history, metrics=None, title: str | None = None, path=None):
    """Training curves: one panel per metric, train and ``val_`` curves together.

    ``history`` is a :class:`~npkeras.callbacks.History` or its ``.history`` dict.
    """
    plt = _pyplot()
    logs = getattr(history, "history", history)
    names = metrics or [k for k in logs if not k.startswith("val_") and k != "learning_rate"]
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names):
        epochs = range(1, len(logs[name]) + 1)
        ax.plot(epochs, logs[name], label=f"train {name}")
        if f"val_{name}" in logs:
            ax.plot(epochs, logs[f"val_{name}"], label=f"validation {name}", linestyle="--")
        if name.endswith("loss") and min(logs[name]) > 0:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path)


def plot_predictions(y_true, y_pred, title: str = "Predicted vs true", path=None):
    """Scatter of predictions against the truth with the identity line."""
    plt = _pyplot()
    t, p = to_numpy(y_true).reshape(-1), to_numpy(y_pred).reshape(-1)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(t, p, s=12, alpha=0.7)
    lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
    ax.plot([lo, hi], [lo, hi], color="black", linewidth=1, label="perfect prediction")
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return _finish(fig, path)


def _dense_chain(model):
    """[(layer, is_dense)] along a chain model, checked to be a simple stack."""

    layers = [layer for layer in model.layers if not isinstance(layer, InputLayer)]
    if model.built and not model._subclassed and model._chain is None:
        raise ValueError(
            "plot_activations draws single-input chains of layers (Sequential-like models)."
        )
    if not any(isinstance(layer, Dense) for layer in layers):
        raise ValueError("plot_activations needs a model with at least one Dense layer.")
    return layers


def plot_activations(model, x, path=None, max_neurons: int = 24, feature_names=None):
    """The network as columns of neurons, shaded by how active each is on ``x``.

    Columns are the inputs and every Dense layer's units; edges are weighted by |w|;
    each neuron's shade is its mean absolute activation over the rows of ``x``,
    relative to the most active neuron of its column (brighter = more active), as in
    the tutorial's "activation significance" picture. Inputs are labelled with
    ``feature_names`` (default: the model's recorded features, else x0, x1, ...).
    """

    plt = _pyplot()
    from matplotlib import cm, colors

    layers = _dense_chain(model)
    h = xp.asarray(x, dtype="float64")
    activity = [xp.abs(h).mean(axis=0)]
    labels = ["inputs"]
    kernels = []
    for layer in layers:
        h = layer.forward(h.astype(layer.params["kernel"].dtype) if isinstance(layer, Dense) else h)
        if isinstance(layer, Dense):
            activity.append(xp.abs(h).reshape(-1, h.shape[-1]).mean(axis=0))
            labels.append(f"{layer.name}\n({layer.units}, {layer.activation.name})")
            kernels.append(to_numpy(layer.params["kernel"]))
    activity = [to_numpy(a)[:max_neurons] for a in activity]
    relative = [a / a.max() if a.max() > 0 else a for a in activity]
    fig, ax = plt.subplots(figsize=(2.2 * len(activity) + 1.5, 5))
    ax.set_facecolor("#1b1b2f")
    cmap = cm.get_cmap("gray") if hasattr(cm, "get_cmap") else plt.get_cmap("gray")
    positions = []
    for col, rel in enumerate(relative):
        n = len(rel)
        ys = [1 - (i + 1) / (n + 1) for i in range(n)]
        positions.append([(col, y) for y in ys])
    for col, kernel in enumerate(kernels):
        k = abs(kernel[: len(positions[col]), : len(positions[col + 1])])
        scale = k.max() or 1.0
        for i, (x0, y0) in enumerate(positions[col]):
            for j, (x1, y1) in enumerate(positions[col + 1]):
                ax.plot(
                    [x0, x1],
                    [y0, y1],
                    color="#8fb3ff",
                    alpha=0.15 + 0.75 * k[i, j] / scale,
                    linewidth=0.5 + 3.0 * k[i, j] / scale,
                    zorder=1,
                )
    for col, rel in enumerate(relative):
        xs, ys = zip(*positions[col])
        ax.scatter(xs, ys, s=520, c=rel, cmap=cmap, vmin=0, vmax=1, edgecolors="#cccccc", zorder=2)
    feature_names = feature_names or (getattr(model, "metadata", None) or {}).get("features")
    for i, (x0, y0) in enumerate(positions[0]):
        name = feature_names[i] if feature_names and i < len(feature_names) else f"x{i}"
        ax.text(x0 - 0.18, y0, name, ha="right", va="center", fontsize=9, color="white")
    ax.set_xlim(-0.6, len(activity) - 0.4)
    ax.set_ylim(0, 1)
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_yticks([])
    ax.set_title("Activation significance (brighter = more active on the sample)")
    mappable = cm.ScalarMappable(norm=colors.Normalize(0, 1), cmap=cmap)
    fig.colorbar(mappable, ax=ax, label="mean |activation|, relative to the column's maximum")
    fig.tight_layout()
    return _finish(fig, path)


def plot_model(model, path=None):
    """A layer diagram: one box per layer (name, type, output shape), arrows for data flow."""
    plt = _pyplot()

    if model._subclassed or not model.built:
        raise ValueError(
            f"plot_model draws the layer graph of a built model; '{model.name}' has none yet: "
            "give it a keras.Input, call build(input_shape) or fit it first."
        )
    boxes = [(t.node.layer.name, "InputLayer", t.shape, []) for t in model.inputs]
    for step in model._plan:
        shape = step.node.outputs[0].shape if len(step.node.outputs) == 1 else None
        parents = [t.node.layer.name for t in step.node.inputs]
        boxes.append((step.layer.name, type(step.layer).__name__, shape, parents))
    depth = {}
    for name, _, _, parents in boxes:
        depth[name] = 1 + max((depth[p] for p in parents if p in depth), default=-1)
    rows: dict = {}
    for name, *_ in boxes:
        rows.setdefault(depth[name], []).append(name)
    where = {}
    for d, names in rows.items():
        for i, name in enumerate(names):
            where[name] = ((i + 1) / (len(names) + 1), -d)
    fig, ax = plt.subplots(
        figsize=(max(4.0, 2.8 * max(len(v) for v in rows.values())), 1.1 * len(rows) + 0.6)
    )
    for name, kind, shape, parents in boxes:
        x0, y0 = where[name]
        text = f"{name} ({kind})\n{format_shape(shape) if shape is not None else '?'}"
        ax.text(
            x0,
            y0,
            text,
            ha="center",
            va="center",
            fontsize=9,
            bbox={"boxstyle": "round,pad=0.4", "facecolor": "#e8eefc", "edgecolor": "#4a6fb3"},
        )
        for p in parents:
            px, py = where[p]
            ax.annotate(
                "",
                xy=(x0, y0 + 0.28),
                xytext=(px, py - 0.28),
                arrowprops={"arrowstyle": "->", "color": "#4a6fb3"},
            )
    ax.set_xlim(0, 1)
    ax.set_ylim(-max(rows) - 0.6, 0.6)
    ax.axis("off")
    ax.set_title(f'Model "{model.name}"')
    fig.tight_layout()
    return _finish(fig, path)
