"""Losses with Keras names, reduction and sample weights, each with its gradient.

A loss maps ``(y_true, y_pred)`` to a per-sample array (the last axis reduced), then
reduces as Keras's ``"sum_over_batch_size"``: ``sum(per_sample * sample_weight) /
per_sample.size``. :meth:`Loss.value_and_grad` returns that scalar and dL/dy_pred.

>>> import numpy as np
>>> from npkeras import losses
>>> float(losses.MeanSquaredError()(np.array([[1.0], [2.0]]), np.array([[1.0], [4.0]])))
2.0
"""

from __future__ import annotations

from npkeras import backend
from npkeras.activations import _sigmoid
from npkeras.backend import xp
from npkeras.ops.tape import Tape, current_tape, record, tracked, value_of
from npkeras.registry import resolve, serialize_object

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "none", None)


class Loss:
    """Base class: subclasses define ``compute(y_true, y_pred) -> (per_sample, d_per_sample)``.

    ``d_per_sample`` is d(per_sample[i])/d(y_pred[i]), the same shape as ``y_pred``.
    """

    name = "loss"
    #: what ``y_pred`` must be for the loss to be fed logits instead (fused gradient)
    fusable_activation: str | None = None

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = None):
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f"Invalid `reduction` {reduction!r}; expected one of "
                "'sum_over_batch_size', 'sum', 'mean', 'none' or None."
            )
        self.reduction = reduction
        if name is not None:
            self.name = name

    # -- per-loss math -------------------------------------------------------------
    def call(self, y_true, y_pred):
        """Per-sample losses written with ``keras.ops`` (Keras's way to define a loss);
        built-in losses define :meth:`compute` instead."""
        raise NotImplementedError(
            f"Loss {type(self).__name__} defines neither `call(y_true, y_pred)` nor `compute`."
        )

    def compute(self, y_true, y_pred, need_grad=True):
        """(per-sample losses, d per_sample[i] / d y_pred[i]) for a loss written with
        :meth:`call`: the derivative comes from the tape (each sample's loss depends on
        its own row only, so one backward pass with ones gives every row's derivative)."""
        if not need_grad:
            return xp.asarray(value_of(self.call(y_true, y_pred))), None
        with Tape() as tape:
            pred = tape.watch(y_pred)
            per_sample = self.call(y_true, pred)
        values = xp.asarray(value_of(per_sample))
        (d,) = tape.backprop([per_sample], [xp.ones_like(values)], [pred])
        return values, (xp.zeros_like(y_pred) if d is None else d)

    def check_targets(self, y_true, pred_shape) -> None:
        """Refuse a whole target array this loss cannot mean (once per data set, before
        training); ``pred_shape`` is the model output's shape (None when unknown)."""

    def prepare_targets(self, y_true, y_pred):
        """y_true as an array of y_pred's type and shape.

        As in Keras, a missing last axis is added and a single target column is
        broadcast against several output columns.
        """
        y_true = backend.as_float_array(y_true, "y_true", dtype=y_pred.dtype)
        if y_true.ndim == y_pred.ndim - 1:
            y_true = y_true[..., None]
        if (
            y_true.shape != y_pred.shape
            and y_true.shape[:-1] == y_pred.shape[:-1]
            and y_true.shape[-1] == 1
        ):
            # as in Keras, one target column is compared with every output column
            y_true = xp.broadcast_to(y_true, y_pred.shape)
        if y_true.shape != y_pred.shape:
            raise ValueError(
                f"Loss '{self.name}' expects y_true and y_pred of the same shape, but received "
                f"y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}."
            )
        return y_true

    # -- reduction -----------------------------------------------------------------
    def _weights(self, per_sample, sample_weight):
        if sample_weight is None:
            return None
        w = xp.asarray(value_of(sample_weight), dtype=per_sample.dtype)
        while w.ndim < per_sample.ndim:
            w = w[..., None]
        return xp.broadcast_to(w, per_sample.shape)

    def _denominator(self, per_sample):
        if self.reduction == "sum":
            return 1.0
        return float(max(per_sample.size, 1))

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The reduced loss (a scalar, or the per-sample array for reduction='none').

        Under a tape with a tracked ``y_pred`` the result is tracked too: its gradient
        is this loss's own derivative, so ``GradientTape.gradient`` reaches the model.
        """
        pred = backend.as_float_array(value_of(y_pred), "y_pred")
        target = self.prepare_targets(value_of(y_true), pred)
        need = current_tape() is not None and tracked(y_pred)
        per_sample, d = self.compute(target, pred, need_grad=need)
        w = self._weights(per_sample, value_of(sample_weight))
        if w is not None:
            per_sample = per_sample * w
        if self.reduction in ("none", None):
            value = per_sample

            def vjp(dy):  # dy: one value per sample
                scale = dy if w is None else dy * w
                return (d * scale[..., None],)
        else:
            value = per_sample.sum() / self._denominator(per_sample)
            scale = 1.0 / self._denominator(per_sample)

            def vjp(dy):
                factor = dy * scale if w is None else (dy * scale * w)[..., None]
                return (d * factor,)

        return record(value, (y_pred,), vjp) if need else value

    def value_and_grad(self, y_true, y_pred, sample_weight=None, need_grad=True):
        """(reduced loss as a float, dL/dy_pred or None) for one batch.

        ``y_true`` must already have gone through :meth:`prepare_targets`.
        """
        per_sample, d = self.compute(y_true, y_pred, need_grad=need_grad)
        scale = 1.0 / self._denominator(per_sample)
        if sample_weight is None:
            value = backend.to_float(per_sample.sum()) * scale
            if need_grad:
                d *= scale
            return value, d
        w = self._weights(per_sample, sample_weight)
        value = backend.to_float((per_sample * w).sum()) * scale
        if need_grad:
            d *= (w * scale)[..., None]
        return value, d

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _mean_last(x):
    # sum then scale: cheaper than ndarray.mean on the small arrays of a training step
    out = xp.add.reduce(x, axis=-1)
    if x.shape[-1] != 1:
        out *= 1.0 / x.shape[-1]
    return out


class MeanSquaredError(Loss):
    name = "mean_squared_error"

    def value_and_grad(self, y_true, y_pred, sample_weight=None, need_grad=True):
        if sample_weight is not None or self.reduction != "sum_over_batch_size":
            return super().value_and_grad(y_true, y_pred, sample_weight, need_grad)
        # unweighted mean over every element: sum of squares / size, gradient 2 diff / size
        diff = y_pred - y_true
        value = backend.to_float(xp.vdot(diff, diff)) / diff.size
        if need_grad:
            diff *= 2.0 / diff.size
        return value, diff if need_grad else None

    def compute(self, y_true, y_pred, need_grad=True):
        diff = y_pred - y_true
        per_sample = _mean_last(diff * diff)
        if need_grad:
            diff *= 2.0 / diff.shape[-1]
        return per_sample, diff if need_grad else None


class MeanAbsoluteError(Loss):
    name = "mean_absolute_error"

    def compute(self, y_true, y_pred, need_grad=True):
        diff = y_pred - y_true
        per_sample = _mean_last(xp.abs(diff))
        return per_sample, (xp.sign(diff) / diff.shape[-1] if need_grad else None)


class MeanAbsolutePercentageError(Loss):
    name = "mean_absolute_percentage_error"

    def compute(self, y_true, y_pred, need_grad=True):
        scale = 100.0 / xp.maximum(xp.abs(y_true), backend.epsilon())
        diff = y_pred - y_true
        per_sample = _mean_last(xp.abs(diff) * scale)
        return per_sample, (xp.sign(diff) * scale / diff.shape[-1] if need_grad else None)


class MeanSquaredLogarithmicError(Loss):
    name = "mean_squared_logarithmic_error"

    def compute(self, y_true, y_pred, need_grad=True):
        eps = backend.epsilon()
        p = xp.maximum(y_pred, eps)
        diff = xp.log1p(p) - xp.log1p(xp.maximum(y_true, eps))
        per_sample = _mean_last(diff * diff)
        if not need_grad:
            return per_sample, None
        return per_sample, 2.0 * diff / (1.0 + p) * (y_pred > eps) / diff.shape[-1]


class Huber(Loss):
    """0.5 e**2 where |e| <= delta, else delta * (|e| - delta / 2); mean over the last axis."""

    name = "huber_loss"

    def __init__(self, delta: float = 1.0, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name)
        self.delta = float(delta)

    def compute(self, y_true, y_pred, need_grad=True):
        e = y_pred - y_true
        a = xp.abs(e)
        quad = xp.minimum(a, self.delta)
        per_sample = _mean_last(0.5 * quad * quad + self.delta * (a - quad))
        return per_sample, (
            xp.clip(e, -self.delta, self.delta) / e.shape[-1] if need_grad else None
        )

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


class LogCosh(Loss):
    name = "log_cosh"

    def compute(self, y_true, y_pred, need_grad=True):
        e = y_pred - y_true
        # log(cosh(e)) = e + softplus(-2e) - log(2), finite for any e
        per_sample = _mean_last(e + xp.logaddexp(0.0, -2.0 * e) - xp.log(2.0))
        return per_sample, (xp.tanh(e) / e.shape[-1] if need_grad else None)


class BinaryCrossentropy(Loss):
    """-(y log p + (1 - y) log(1 - p)), mean over the last axis.

    With ``from_logits=True`` it is computed from z as ``max(z, 0) - z y + log(1 + e^-|z|)``
    and its gradient is ``sigmoid(z) - y``. Probabilities are clipped to [eps, 1 - eps].
    """

    name = "binary_crossentropy"
    fusable_activation = "sigmoid"

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        reduction="sum_over_batch_size",
        name=None,
    ):
        super().__init__(reduction, name)
        self.from_logits = bool(from_logits)
        self.label_smoothing = _check_smoothing(label_smoothing)

    def check_targets(self, y_true, pred_shape):
        y = xp.asarray(y_true)
        if y.size and y.dtype.kind in "fiub":
            low, high = backend.to_float(y.min()), backend.to_float(y.max())
            if low < 0.0 or high > 1.0:
                raise ValueError(
                    f"Loss '{self.name}' needs targets in [0, 1] (labels or probabilities), "
                    f"but the targets range over [{low:g}, {high:g}]. For several classes use "
                    "sparse_categorical_crossentropy (integer labels) or "
                    "categorical_crossentropy (one-hot rows)."
                )

    def compute(self, y_true, y_pred, need_grad=True):
        y = y_true
        if self.label_smoothing:
            y = y * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        n = y_pred.shape[-1]
        if self.from_logits:
            z = y_pred
            per = xp.maximum(z, 0) - z * y + xp.logaddexp(0.0, -xp.abs(z))
            return _mean_last(per), ((_sigmoid(z) - y) / n if need_grad else None)
        eps = backend.epsilon()
        p = xp.clip(y_pred, eps, 1.0 - eps)
        per = -(y * xp.log(p) + (1.0 - y) * xp.log1p(-p))
        if not need_grad:
            return _mean_last(per), None
        inside = (y_pred >= eps) & (y_pred <= 1.0 - eps)
        return _mean_last(per), (p - y) / (p * (1.0 - p)) * inside / n

    def get_config(self):
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
        }


def _check_smoothing(value):
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"`label_smoothing` must be in [0, 1]; received label_smoothing={value}.")
    return value


def _shifted_softmax(z, axis):
    """(z - max, log of the softmax normaliser, softmax): one exp, all in the shifted
    domain, so large logits lose no precision."""
    shifted = z - backend.reduce_max(z, axis)
    p = xp.exp(shifted)
    total = backend.reduce_sum(p, axis)
    p /= total
    return shifted, xp.log(total), p


def _softmax_xent(y, z, axis, need_grad):
    """Cross-entropy of targets y against softmax(z): (per-sample, d/dz)."""
    shifted, log_total, p = _shifted_softmax(z, axis)
    mass = backend.reduce_sum(y, axis)
    per = (mass * log_total - backend.reduce_sum(y * shifted, axis)).squeeze(axis)
    if not need_grad:
        return per, None
    p *= mass
    p -= y
    return per, p


class CategoricalCrossentropy(Loss):
    """-sum(y log p) over the class axis; targets are one-hot (or soft) rows."""

    name = "categorical_crossentropy"
    fusable_activation = "softmax"

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction="sum_over_batch_size",
        name=None,
    ):
        super().__init__(reduction, name)
        self.from_logits = bool(from_logits)
        self.label_smoothing = _check_smoothing(label_smoothing)
        self.axis = int(axis)

    def check_targets(self, y_true, pred_shape):
        y = xp.asarray(y_true)
        if pred_shape is None or pred_shape[-1] in (None, 1):
            return
        if y.ndim < len(pred_shape) or y.shape[-1] == 1:
            raise ValueError(
                f"Loss '{self.name}' needs one-hot targets of {pred_shape[-1]} columns, but "
                f"received targets of shape {y.shape}, which look like integer class labels. "
                "Use loss='sparse_categorical_crossentropy' for integer labels, or one-hot "
                "encode them with keras.utils.to_categorical(y)."
            )

    def compute(self, y_true, y_pred, need_grad=True):
        y = y_true
        if self.label_smoothing:
            k = y_pred.shape[self.axis]
            y = y * (1.0 - self.label_smoothing) + self.label_smoothing / k
        if self.from_logits:
            return _softmax_xent(y, y_pred, self.axis, need_grad)
        # Keras renormalises the probabilities, then clips them to [eps, 1 - eps].
        eps = backend.epsilon()
        total = backend.reduce_sum(y_pred, self.axis)
        q = y_pred / total
        qc = xp.clip(q, eps, 1.0 - eps)
        per = -(y * xp.log(qc)).sum(axis=self.axis)
        if not need_grad:
            return per, None
        dq = -y / qc * ((q >= eps) & (q <= 1.0 - eps))
        # through q = p / sum(p): dL/dp_j = (dL/dq_j - sum_i dL/dq_i q_i) / sum(p)
        dp = (dq - backend.reduce_sum(dq * q, self.axis)) / total
        return per, dp

    def get_config(self):
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "axis": self.axis,
        }


class SparseCategoricalCrossentropy(Loss):
    """Categorical cross-entropy with integer class labels of shape (batch,) or (batch, 1)."""

    name = "sparse_categorical_crossentropy"
    fusable_activation = "softmax"

    def __init__(self, from_logits: bool = False, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name)
        self.from_logits = bool(from_logits)

    def prepare_targets(self, y_true, y_pred):
        labels = xp.asarray(value_of(y_true))
        if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
            labels = labels[..., 0]
        if labels.shape != y_pred.shape[:-1]:
            raise ValueError(
                f"Loss '{self.name}' expects integer labels of shape {y_pred.shape[:-1]} "
                f"(or with a trailing 1) for y_pred of shape {y_pred.shape}, but received "
                f"y_true.shape={tuple(labels.shape)}."
            )
        if labels.dtype.kind == "f":
            if labels.size and not bool((labels == xp.round(labels)).all()):
                raise ValueError(
                    f"Loss '{self.name}' expects integer class labels; received fractional values."
                )
        elif labels.dtype.kind not in "iu":
            raise TypeError(
                f"Loss '{self.name}' expects integer class labels; received dtype {labels.dtype}."
            )
        labels = labels.astype(xp.intp, copy=False)
        k = y_pred.shape[-1]
        outside = (labels < 0) | (labels >= k)
        if labels.size and bool(outside.any()):
            bad = backend.to_numpy(labels[outside])
            raise ValueError(
                f"Loss '{self.name}' received labels outside [0, {k - 1}] for {k} classes: "
                f"{sorted(set(bad.tolist()))[:10]}. Labels must be integers in [0, {k})."
            )
        return labels

    def compute(self, y_true, y_pred, need_grad=True):
        flat = y_pred.reshape(-1, y_pred.shape[-1])
        rows = xp.arange(flat.shape[0])
        labels = y_true.reshape(-1)
        if self.from_logits:
            shifted, log_total, d = _shifted_softmax(flat, -1)
            per = (log_total[:, 0] - shifted[rows, labels]).reshape(y_pred.shape[:-1])
            if not need_grad:
                return per, None
            d[rows, labels] -= 1.0
            return per, d.reshape(y_pred.shape)
        eps = backend.epsilon()
        total = flat.sum(axis=-1)
        q = flat[rows, labels] / total
        qc = xp.clip(q, eps, 1.0 - eps)
        per = (-xp.log(qc)).reshape(y_pred.shape[:-1])
        if not need_grad:
            return per, None
        dq = -1.0 / qc * ((q >= eps) & (q <= 1.0 - eps))
        # dL/dp_j = dq * (onehot_j - q) / sum(p)
        d = xp.repeat((-dq * q / total)[:, None], flat.shape[1], axis=1)
        d[rows, labels] += dq / total
        return per, d.reshape(y_pred.shape)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


class KLDivergence(Loss):
    name = "kl_divergence"

    def compute(self, y_true, y_pred, need_grad=True):
        eps = backend.epsilon()
        t = xp.clip(y_true, eps, 1.0)
        p = xp.clip(y_pred, eps, 1.0)
        per = (t * xp.log(t / p)).sum(axis=-1)
        if not need_grad:
            return per, None
        return per, -t / p * ((y_pred >= eps) & (y_pred <= 1.0))


def _signed_labels(y_true):
    # Keras turns {0, 1} labels into {-1, 1} for the hinge losses.
    if y_true.size and bool(((y_true == 0) | (y_true == 1)).all()):
        return 2.0 * y_true - 1.0
    return y_true


class Hinge(Loss):
    name = "hinge"

    def compute(self, y_true, y_pred, need_grad=True):
        t = _signed_labels(y_true)
        margin = xp.maximum(1.0 - t * y_pred, 0.0)
        per = _mean_last(margin)
        return per, (-t * (margin > 0) / y_pred.shape[-1] if need_grad else None)


class SquaredHinge(Loss):
    name = "squared_hinge"

    def compute(self, y_true, y_pred, need_grad=True):
        t = _signed_labels(y_true)
        margin = xp.maximum(1.0 - t * y_pred, 0.0)
        per = _mean_last(margin * margin)
        return per, (-2.0 * t * margin / y_pred.shape[-1] if need_grad else None)


class Poisson(Loss):
    name = "poisson"

    def compute(self, y_true, y_pred, need_grad=True):
        eps = backend.epsilon()
        per = _mean_last(y_pred - y_true * xp.log(y_pred + eps))
        return per, ((1.0 - y_true / (y_pred + eps)) / y_pred.shape[-1] if need_grad else None)


class CosineSimilarity(Loss):
    """-cos(y_true, y_pred) along ``axis``: -1 for parallel vectors."""

    name = "cosine_similarity"

    def __init__(self, axis: int = -1, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name)
        self.axis = int(axis)

    def compute(self, y_true, y_pred, need_grad=True):
        def norm(v):
            return xp.sqrt(xp.maximum((v * v).sum(axis=self.axis, keepdims=True), 1e-12))

        t_hat = y_true / norm(y_true)
        n = norm(y_pred)
        q = y_pred / n
        cos = (t_hat * q).sum(axis=self.axis, keepdims=True)
        per = -cos.squeeze(self.axis)
        if not need_grad:
            return per, None
        return per, -(t_hat - cos * q) / n

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class LossFunctionWrapper(Loss):
    """A loss from a function ``fn(y_true, y_pred) -> per-sample`` with a separate ``grad_fn``."""

    def __init__(self, fn, grad_fn, name=None, reduction="sum_over_batch_size"):
        super().__init__(reduction, name or getattr(fn, "__name__", "loss"))
        self.fn, self.grad_fn = fn, grad_fn

    def compute(self, y_true, y_pred, need_grad=True):
        per = self.fn(y_true, y_pred)
        return per, (self.grad_fn(y_true, y_pred) if need_grad else None)


class FunctionLoss(Loss):
    """A loss from a plain function ``fn(y_true, y_pred) -> per-sample losses`` written
    with ``keras.ops`` (``compile(loss=my_loss)``); its gradient comes from the tape."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name or getattr(fn, "__name__", "loss"))
        self.fn = fn

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred)

    def get_config(self):
        return {**super().get_config(), "fn": getattr(self.fn, "__name__", repr(self.fn))}


_CLASSES = {
    "mean_squared_error": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "huber": Huber,
    "log_cosh": LogCosh,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "kl_divergence": KLDivergence,
    "hinge": Hinge,
    "squared_hinge": SquaredHinge,
    "poisson": Poisson,
    "cosine_similarity": CosineSimilarity,
}
_ALIASES = {
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error",
    "huber_loss": "huber",
    "logcosh": "log_cosh",
    "kld": "kl_divergence",
    "kullback_leibler_divergence": "kl_divergence",
}


def get(identifier) -> Loss:
    """A loss from a name ('mse'), a :class:`Loss` or a config dict."""

    if callable(identifier) and not isinstance(identifier, (Loss, type)):
        return FunctionLoss(identifier)
    return resolve(identifier, "loss", _CLASSES, Loss, _ALIASES)


def serialize(loss: Loss) -> dict:

    return serialize_object(loss)


# -- function forms: per-sample losses, as keras.losses.mean_squared_error(y_true, y_pred) --
# Each runs its class with reduction="none", so it returns one value per sample (the last
# axis reduced) and, under a tape, records the class's own derivative: usable inside a
# custom loss and differentiable like any op.


def _per_sample(loss_class, y_true, y_pred, **options):
    return loss_class(reduction="none", **options)(y_true, y_pred)


def _check_last_axis(fn_name, axis):
    if axis != -1:
        raise ValueError(
            f"{fn_name} reduces the last axis only; received axis={axis}. "
            "Move the class axis last (e.g. with keras.ops.moveaxis)."
        )


def mean_squared_error(y_true, y_pred):
    """Per-sample mean of (y_true - y_pred)**2 over the last axis.

    >>> mean_squared_error([[1.0, 2.0]], [[1.0, 4.0]]).tolist()
    [2.0]
    """
    return _per_sample(MeanSquaredError, y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """Per-sample mean of |y_true - y_pred| over the last axis."""
    return _per_sample(MeanAbsoluteError, y_true, y_pred)


def mean_absolute_percentage_error(y_true, y_pred):
    """Per-sample 100 * mean(|y_true - y_pred| / |y_true|) over the last axis."""
    return _per_sample(MeanAbsolutePercentageError, y_true, y_pred)


def mean_squared_logarithmic_error(y_true, y_pred):
    """Per-sample mean of (log1p(y_true) - log1p(y_pred))**2 over the last axis."""
    return _per_sample(MeanSquaredLogarithmicError, y_true, y_pred)


def huber(y_true, y_pred, delta=1.0):
    """Per-sample Huber loss (quadratic within ``delta``, linear beyond)."""
    return _per_sample(Huber, y_true, y_pred, delta=delta)


def log_cosh(y_true, y_pred):
    """Per-sample mean of log(cosh(y_pred - y_true)) over the last axis."""
    return _per_sample(LogCosh, y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample binary cross-entropy, mean over the last axis.

    >>> round(float(binary_crossentropy([[1.0]], [[0.5]])[0]), 6)
    0.693147
    """
    _check_last_axis("binary_crossentropy", axis)
    return _per_sample(
        BinaryCrossentropy, y_true, y_pred, from_logits=from_logits, label_smoothing=label_smoothing
    )


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample cross-entropy of one-hot (or soft) targets against class scores."""
    return _per_sample(
        CategoricalCrossentropy,
        y_true,
        y_pred,
        from_logits=from_logits,
        label_smoothing=label_smoothing,
        axis=axis,
    )


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Per-sample cross-entropy of integer labels against class scores (last axis)."""
    _check_last_axis("sparse_categorical_crossentropy", axis)
    if ignore_class is not None:
        raise ValueError(
            "sparse_categorical_crossentropy does not support `ignore_class` yet; "
            "pass sample_weight=0 for the samples to ignore instead."
        )
    return _per_sample(SparseCategoricalCrossentropy, y_true, y_pred, from_logits=from_logits)


def kl_divergence(y_true, y_pred):
    """Per-sample sum of y_true * log(y_true / y_pred) over the last axis."""
    return _per_sample(KLDivergence, y_true, y_pred)


def hinge(y_true, y_pred):
    """Per-sample mean of max(1 - y_true * y_pred, 0) (labels 0/1 become -1/1)."""
    return _per_sample(Hinge, y_true, y_pred)


def squared_hinge(y_true, y_pred):
    """Per-sample mean of max(1 - y_true * y_pred, 0)**2 (labels 0/1 become -1/1)."""
    return _per_sample(SquaredHinge, y_true, y_pred)


def poisson(y_true, y_pred):
    """Per-sample mean of y_pred - y_true * log(y_pred) over the last axis."""
    return _per_sample(Poisson, y_true, y_pred)


def cosine_similarity(y_true, y_pred, axis=-1):
    """Per-sample negative cosine similarity along ``axis`` (-1 for parallel vectors)."""
    return _per_sample(CosineSimilarity, y_true, y_pred, axis=axis)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kl_divergence
logcosh = log_cosh
