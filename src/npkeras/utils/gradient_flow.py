"""plot_gradient_flow: the picture of :class:`~npkeras.callbacks.GradientStats` logs."""

from __future__ import annotations

from npkeras.utils.plots import _finish, _pyplot

_GRAD = "/grad_norm"
_WEIGHT = "/weight_norm"


def plot_gradient_flow(history, path=None):
    """Gradient norms per layer, for vanishing or exploding gradients at a glance.

    Left: each layer's mean gradient norm per epoch (log scale); lines that sink by
    orders of magnitude towards the first layers mean vanishing gradients, lines that
    climb mean exploding ones. Right: the last epoch, layer by layer from input to
    output, gradient norm divided by weight norm (how fast each layer is moving).

    Args:
        history: the :class:`~npkeras.callbacks.History` of a ``fit`` run with
            ``callbacks=[keras.callbacks.GradientStats()]``, or its ``.history`` dict.
        path: where to save the picture (optional).

    Returns:
        The matplotlib Figure.
    """
    logs = getattr(history, "history", history)
    names = [key[: -len(_GRAD)] for key in logs if key.endswith(_GRAD)]
    if not names:
        raise ValueError(
            "plot_gradient_flow found no gradient statistics in the history: train with "
            "model.fit(..., callbacks=[keras.callbacks.GradientStats()])."
        )
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for name in names:
        values = logs[name + _GRAD]
        left.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=name)
    from matplotlib.ticker import MaxNLocator

    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_yscale("log")
    left.set_xlabel("epoch")
    left.set_ylabel("mean gradient norm")
    left.set_title("Gradient norm per layer")
    left.grid(alpha=0.3, which="both")
    left.legend(fontsize=8)
    ratios = []
    for name in names:
        weight = logs[name + _WEIGHT][-1] if name + _WEIGHT in logs else 0.0
        ratios.append(logs[name + _GRAD][-1] / weight if weight else float("nan"))
    right.bar(range(len(names)), ratios, color="#4a6fb3")
    right.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    right.set_yscale("log")
    right.set_ylabel("gradient norm / weight norm")
    right.set_title("Last epoch, input to output")
    right.grid(alpha=0.3, axis="y", which="both")
    fig.tight_layout()
    return _finish(fig, path)
