"""One training step of a compiled model: forward, loss, backward, apply.

The step owns what a model needs only while it trains: the flat parameter buffer (every
trainable weight of the model in one array, with one for the gradients), the optimizer
link, the resolved losses and the fused softmax/sigmoid + cross-entropy outputs. Which
layers may overwrite their gradients this step, and which outputs arrive already fused,
travel with the backward call; nothing is written onto the layers, so a layer shared
with another model keeps training correctly in both.
"""

from __future__ import annotations

import math

from npkeras import backend
from npkeras.backend import xp
from npkeras.ops.tape import value_of
from npkeras.training import outputs as outputs_module
from npkeras.training.parameters import ParameterBuffer


def _mask_weights(mask, sample_weight, dtype):
    """An output's Keras mask as loss weights, scaled (as Keras does) so that the mean runs
    over the unmasked elements only; combined with any sample weights."""
    weights = mask.astype(dtype)
    weights *= weights.size / (backend.to_float(weights.sum()) + backend.epsilon())
    if sample_weight is not None:
        sw = xp.asarray(sample_weight, dtype=dtype)
        weights = weights * sw.reshape(sw.shape + (1,) * (weights.ndim - sw.ndim))
    return weights


class TrainingStep:
    """The step of ``model`` with ``optimizer`` and per-output ``losses``/``loss_weights``.

    Attributes:
        buffer: the :class:`ParameterBuffer` (after :meth:`prepare`).
    """

    def __init__(self, model, optimizer, losses, loss_weights):
        self.model = model
        self.optimizer = optimizer
        self.losses = losses
        self.loss_weights = loss_weights
        self.fused = self._find_fusions()
        self.fused_layers = frozenset(f[0] for f in self.fused if f is not None)
        self.buffer = None
        self._fresh_layers = None
        self._fresh: set = set()
        self._regularized: list = []
        self._constrained: list = []
        self._activity: list = []
        self._call_layers: list = []
        self._prepared_for = None  # (buffer, layers) the lists above were made for

    def _find_fusions(self):
        """For each output: (layer, logits loss) when softmax/sigmoid + cross-entropy can
        be fused into one stable gradient, ``(p - y) / n``."""
        fused = []
        for loss, producer in zip(self.losses, self.model._output_producers()):
            activation = getattr(producer, "activation", None)
            ok = (
                loss is not None
                and loss.fusable_activation is not None
                and not getattr(loss, "from_logits", True)
                and producer is not None
                and hasattr(producer, "preactivation")
                and activation is not None
                and getattr(activation, "name", None) == loss.fusable_activation
                and getattr(activation, "axis", -1) in (-1, getattr(loss, "axis", -1))
            )
            fused.append((producer, outputs_module.logits_twin(loss)) if ok else None)
        return fused

    # -- weights -------------------------------------------------------------------
    def prepare(self) -> ParameterBuffer:
        """Pack the trainable weights (again, when layers were added, frozen or moved into
        another model's buffer since) and build the optimizer for them."""
        layers = self.model._all_layers()
        buf = self.buffer
        if buf is None or not buf.is_current(layers):
            layout_changed = buf is None or buf.signature != ParameterBuffer._signature(layers)
            self.buffer = buf = ParameterBuffer(layers)
            if layout_changed and self.optimizer.built:
                self.optimizer.built = False
        if not self.optimizer.built:
            self.optimizer.build([buf.params], segments=[buf.bounds])
        # the same layers and buffer: the lists below are still the model's (as in Keras,
        # a regularizer or constraint given to a built weight counts from the next compile)
        if self._prepared_for == (buf, layers):
            return buf
        self._prepared_for = (buf, layers)
        trainable = [
            layer
            for layer in layers
            if any(layer._weight_is_trainable(n) for n in layer._variables)
        ]
        # when every trainable layer overwrites its gradients on its first write, a step
        # needs no zeroing pass over the gradient buffer
        driven = self.model._context_driven_layers()
        self._fresh_layers = (
            trainable
            if trainable
            and all(layer.supports_fresh_grads and layer in driven for layer in trainable)
            else None
        )
        self._regularized = [
            layer
            for layer in layers
            if any(v.regularizer is not None for v in layer._variables.values())
        ]
        # (weight's view in the buffer, constraint) for each trainable weight with one:
        # projected after every update, as Keras does; empty (no cost) for most models
        self._constrained = [
            (view, layer._variables[name].constraint)
            for (layer, name), view in zip(buf.entries, buf.views)
            if layer._variables[name].constraint is not None
        ]
        self._activity = [
            layer for layer in layers if getattr(layer, "activity_regularizer", None) is not None
        ]
        # layers written with `call` may add_loss() terms during their forward
        self._call_layers = [layer for layer in self.model._flatten_layers() if layer._uses_call()]
        return buf

    def get_state(self) -> dict:
        """The optimizer's arrays (iterations and slots) for the packed weights."""
        return self.optimizer.get_state()

    def set_state(self, state: dict) -> None:
        """Restore :meth:`get_state` output (packing the weights first)."""
        buf = self.prepare()
        self.optimizer.set_state(state, [buf.params])

    # -- losses --------------------------------------------------------------------
    def penalties(self, add_grads: bool) -> float:
        """Weight penalties, activity penalties and ``add_loss`` terms of the last call."""
        total = 0.0
        for layer in self._regularized:
            total += layer.regularization_loss()
            if add_grads:
                layer.add_regularization_grads()
        for layer in self._activity:
            total += backend.to_float(getattr(layer, "activity_loss", 0.0))
        for layer in self._call_layers:
            total += sum(backend.to_float(value_of(v)) for v in layer._losses)
        return total

    def losses_and_grads(self, ys, outs, sws, need_grad):
        """(total loss, loss per output, dL/d(each output)) for one batch."""
        total, per_output, grads = 0.0, [], []
        for i, out in enumerate(outs):
            loss = self.losses[i]
            if loss is None:
                per_output.append(0.0)
                grads.append(None)
                continue
            fused = self.fused[i]
            if fused is not None:
                pred, loss = fused[0].preactivation(), fused[1]
            else:
                pred = out
            target = loss.prepare_targets(ys[i], pred)
            weights = sws[i] if sws else None
            masks = self.model._output_masks
            if masks is not None and masks[i] is not None:
                weights = _mask_weights(masks[i], weights, pred.dtype)
            value, d = loss.value_and_grad(target, pred, weights, need_grad)
            weight = self.loss_weights[i]
            if need_grad and weight != 1.0:
                d *= weight
            total += weight * value
            per_output.append(value)
            grads.append(d)
        return total, per_output, grads

    # -- the step ------------------------------------------------------------------
    def compute_gradients(self, xs, ys, sws):
        """Forward, loss and backward for one batch: fills the gradient buffer.

        Returns (total loss with penalties, loss per output, outputs).
        """
        fresh = self._fresh
        if self._fresh_layers is None:
            self.buffer.grads.fill(0)
            fresh = None
        else:  # (layers left in it by a step that failed are among these)
            fresh.update(self._fresh_layers)
        model = self.model
        outs = model._forward(xs, training=True)
        loss, per_output, dys = self.losses_and_grads(ys, outs, sws, need_grad=True)
        model._backward(dys, fused=self.fused_layers, fresh=fresh)
        if fresh:  # layers no gradient reached this step
            for layer in fresh:
                layer.zero_grads()
        loss += self.penalties(add_grads=True)
        return loss, per_output, outs

    def train_batch(self, xs, ys, sws, distribution=None):
        """One optimizer step on one batch; returns (loss, loss per output, outputs).

        Under a multi-process ``distribution`` the batch is this process's shard, the
        returned loss is the whole global batch's and ``outs`` is None for an empty shard.
        A non-finite loss or gradient is never applied: the weights stay those of the last
        finite step (the loop warns, and TerminateOnNaN stops).
        """
        buf = self.buffer
        shared = distribution is not None and distribution.world_size > 1
        if shared and not len(xs[0]):  # this process's share of a short last batch is empty
            buf.grads.fill(0)
            loss, per_output, outs = 0.0, [0.0] * len(self.losses), None
        else:
            loss, per_output, outs = self.compute_gradients(xs, ys, sws)
        if shared:  # the global batch's gradient and loss, the same on every process
            loss = distribution.reduce_gradients(buf, len(xs[0]), loss)
        if buf.params.size:
            if math.isfinite(loss) and backend.all_finite(buf.grads):
                self.optimizer.apply_flat(buf.grads, buf.params)
                for view, constraint in self._constrained:
                    view[...] = constraint(view)  # variable.assign(constraint(variable))
            elif math.isfinite(loss):
                loss = math.nan  # a finite loss whose gradient is not: report it as NaN
        return loss, per_output, outs

    def test_batch(self, xs, ys, sws):
        """Loss and outputs for one batch, without gradients."""
        outs = self.model._forward(xs, training=False)
        loss, per_output, _ = self.losses_and_grads(ys, outs, sws, need_grad=False)
        return loss + self.penalties(add_grads=False), per_output, outs
