"""Per-output losses, loss weights and metrics of a compiled model."""

from __future__ import annotations

from npkeras import losses as losses_module
from npkeras import metrics as metrics_module


def _per_output(spec, names, what, convert):
    """One entry per output from a single value, a list or a dict keyed by output name."""
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - set(names))
        if unknown:
            raise ValueError(
                f"`{what}` has keys {unknown} that are not output names; the outputs are {names}."
            )
        return [convert(spec.get(n)) for n in names]
    if isinstance(spec, (list, tuple)) and what != "metrics":
        if len(spec) != len(names):
            raise ValueError(
                f"`{what}` is a list of {len(spec)} entries, but the model has {len(names)} "
                f"outputs ({names})."
            )
        return [convert(s) for s in spec]
    return [convert(spec) for _ in names]


def resolve_losses(loss, names):
    def convert(value):
        return None if value is None else losses_module.get(value)

    return _per_output(loss, names, "loss", convert)


def resolve_loss_weights(loss_weights, names):
    if loss_weights is None:
        return [1.0] * len(names)
    return _per_output(
        loss_weights, names, "loss_weights", lambda w: 1.0 if w is None else float(w)
    )


def resolve_metrics(metrics, names, y_shapes, pred_shapes):
    """A list (per output) of lists of named metric objects."""
    if metrics is None:
        return [[] for _ in names]
    if isinstance(metrics, dict):
        per_output = [metrics.get(n, []) for n in names]
        unknown = sorted(set(metrics) - set(names))
        if unknown:
            raise ValueError(f"`metrics` has keys {unknown} that are not output names {names}.")
    elif (
        isinstance(metrics, (list, tuple))
        and len(names) > 1
        and metrics
        and all(isinstance(m, (list, tuple)) or m is None for m in metrics)
    ):
        if len(metrics) != len(names):
            raise ValueError(f"`metrics` has {len(metrics)} lists for {len(names)} outputs.")
        per_output = list(metrics)
    else:
        per_output = [metrics] * len(names)
    resolved = []
    for i, spec in enumerate(per_output):
        if spec is None:
            spec = []
        if not isinstance(spec, (list, tuple)):
            spec = [spec]
        objs = [metrics_module.resolve(m, y_shapes[i], pred_shapes[i]) for m in spec]
        if isinstance(metrics, dict) or len(names) > 1:
            for m, ident in zip(objs, spec):
                base = ident if isinstance(ident, str) else m.name
                m.name = f"{names[i]}_{base}"
        resolved.append(objs)
    return resolved


def as_built(model, outputs):
    """A model's outputs in the structure it was built with: a dict by output name for
    a functional model whose outputs were given as a dict (Keras 3), else ``outputs``
    unchanged (one array, or a list)."""
    if not getattr(model, "_dict_outputs", False):
        return outputs
    values = outputs if isinstance(outputs, list) else [outputs]
    return dict(zip(model.output_names, values))


def in_output_order(value, names, what):
    """``value`` as a list with one entry per output: a dict keyed by output name in the
    outputs' order, a list or tuple as given, anything else as the only entry."""
    if isinstance(value, dict):
        missing = [n for n in names if n not in value]
        if missing:
            raise ValueError(
                f"`{what}` is a dict, but it has no entry for {missing}; it has keys "
                f"{sorted(value)} and the model's outputs are {names}."
            )
        return [value[n] for n in names]
    return list(value) if isinstance(value, (list, tuple)) else [value]


def logits_twin(loss):
    """The same loss configured to take logits (for the fused softmax/sigmoid gradient)."""
    config = {**loss.get_config(), "from_logits": True}
    return type(loss).from_config(config)


class CompileMetrics(metrics_module.Metric):
    """The metrics given to ``compile()``, as one metric (``model.compiled_metrics``):
    ``update_state(y, y_pred, sample_weight)`` feeds every output's metrics and
    ``result()`` returns their values by name."""

    name = "compile_metrics"

    def __init__(self, model):
        self._model = model
        super().__init__(name="compile_metrics")

    def has_metrics(self) -> bool:
        return bool(self._model._metric_spec or self._model._weighted_metric_spec)

    def reset_state(self):
        model = getattr(self, "_model", None)
        if model is not None and model._metrics is not None:
            model._reset_metrics()

    def update_state(self, y_true, y_pred, sample_weight=None):
        model = self._model
        names = model.output_names
        preds = in_output_order(y_pred, names, "y_pred")
        ys = in_output_order(y_true, names, "y_true")
        sws = (
            None
            if sample_weight is None
            else (
                in_output_order(sample_weight, names, "sample_weight")
                if isinstance(sample_weight, (list, tuple, dict))
                else [sample_weight] * len(names)
            )
        )
        model._record_metrics(ys, preds, sws, [0.0] * len(names), len(preds[0]))

    def result(self) -> dict:
        model = self._model
        if model._metrics is None:
            return {}
        return {
            m.name: m.result() for group in model._metrics + model._weighted_metrics for m in group
        }
