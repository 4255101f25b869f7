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

    resolved = _per_output(loss, names, "loss", convert)
    if all(r is None for r in resolved):
        raise ValueError("compile() needs a `loss` for at least one output; received loss=None.")
    return resolved


def resolve_loss_weights(loss_weights, names):
    if loss_weights is None:
        return [1.0] * len(names)
    return _per_output(loss_weights, names, "loss_weights",
                       lambda w: 1.0 if w is None else float(w))


def resolve_metrics(metrics, names, y_shapes, pred_shapes):
    """A list (per output) of lists of named metric objects."""
    if metrics is None:
        return [[] for _ in names]
    if isinstance(metrics, dict):
        per_output = [metrics.get(n, []) for n in names]
        unknown = sorted(set(metrics) - set(names))
        if unknown:
            raise ValueError(f"`metrics` has keys {unknown} that are not output names {names}.")
    elif isinstance(metrics, (list, tuple)) and len(names) > 1 and metrics and all(
            isinstance(m, (list, tuple)) or m is None for m in metrics):
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


def logits_twin(loss):
    """The same loss configured to take logits (for the fused softmax/sigmoid gradient)."""
    config = {**loss.get_config(), "from_logits": True}
    return type(loss).from_config(config)
