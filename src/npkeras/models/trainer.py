"""compile / fit / evaluate / predict, shared by functional models and Sequential.

A model supplies ``_forward(inputs, training) -> outputs`` and ``_backward(output_grads)``
over lists of arrays, plus ``input_names``, ``output_names`` and ``_all_layers()``; this
mixin supplies the training loop around them.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import warnings

from npkeras import backend
from npkeras import optimizers as optimizers_module
from npkeras.backend import xp
from npkeras.callbacks.base import CallbackList, History
from npkeras.callbacks.progbar import ProgbarLogger
from npkeras.metrics import Mean
from npkeras.models import data as data_module
from npkeras.models import outputs as outputs_module
from npkeras.models.parameters import ParameterBuffer


@contextlib.contextmanager
def deferred_interrupts(flag: dict):
    """Turn a first Ctrl-C into ``flag['interrupted'] = True`` so training stops between
    steps (never halfway through a weight update); a second Ctrl-C interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if flag.get("interrupted"):
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        flag["interrupted"] = True

    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # pragma: no cover - embedded interpreters without signals
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class Trainer:
    """The Keras training API. Mixed into :class:`~npkeras.models.Model`."""

    def _init_trainer(self):
        self.optimizer = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._param_buffer = None
        self._compile_args = None
        self._losses = None
        self._metrics = None
        self._resume_epoch = None
        self._training_interrupted = False

    # -- compile -------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Configure training.

        Args:
            optimizer: name or :class:`~npkeras.optimizers.Optimizer` (default 'rmsprop').
            loss: name, :class:`~npkeras.losses.Loss`, or a list/dict per output.
            metrics: list of names/metrics, or a list/dict per output. 'accuracy' picks
                binary, categorical or sparse accuracy from the data as Keras does.
            loss_weights: scalar weight per output (list or dict).
            run_eagerly, steps_per_execution, jit_compile, auto_scale_loss: accepted for
                compatibility with Keras scripts; npkeras always runs eagerly.
        """
        self.optimizer = optimizers_module.get(optimizer)
        names = self.output_names
        self._losses = outputs_module.resolve_losses(loss, names)
        self._loss_weights = outputs_module.resolve_loss_weights(loss_weights, names)
        self._metric_spec = metrics
        self._weighted_metric_spec = weighted_metrics
        self._metrics = None
        self._compile_args = {"loss": loss, "metrics": metrics, "loss_weights": loss_weights}
        self._fused = self._find_fusions()
        self._fused_layers = [f[0] for f in self._fused if f is not None]
        self.compiled = True

    def _find_fusions(self):
        """For each output: (layer, logits loss) when softmax/sigmoid + cross-entropy can be fused."""
        fused = []
        for loss, producer in zip(self._losses, self._output_producers()):
            activation = getattr(producer, "activation", None)
            ok = (loss is not None and loss.fusable_activation is not None
                  and not getattr(loss, "from_logits", True)
                  and producer is not None and hasattr(producer, "preactivation")
                  and activation is not None and activation.name == loss.fusable_activation
                  and getattr(activation, "axis", -1) in (-1, getattr(loss, "axis", -1)))
            fused.append((producer, outputs_module.logits_twin(loss)) if ok else None)
        return fused

    def _require_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(
                f"You must call `compile()` before `{what}()`: the model has no loss or "
                "optimizer yet. Example: model.compile(optimizer='adam', loss='mse')."
            )

    # -- weights for training ------------------------------------------------------
    def _prepare_parameters(self):
        layers = self._all_layers()
        buf = self._param_buffer
        if buf is None or not buf.is_current(layers):
            layout_changed = buf is None or buf.signature != ParameterBuffer._signature(layers)
            self._param_buffer = buf = ParameterBuffer(layers)
            if layout_changed and self.optimizer is not None and self.optimizer.built:
                self.optimizer.built = False
        if self.optimizer is not None and not self.optimizer.built:
            self.optimizer.build([buf.params], segments=[buf.bounds])
        trainable = [layer for layer in layers if any(layer._weight_is_trainable(n) for n in layer.params)]
        # when every trainable layer overwrites its gradients on first write, a step needs
        # no zeroing pass over the gradient buffer
        self._fresh_layers = trainable if all(layer.supports_fresh_grads for layer in trainable) else None
        self._regularized = [layer for layer in layers
                             if any(s["regularizer"] is not None for s in layer._weight_specs.values())]
        self._activity = [layer for layer in layers if getattr(layer, "activity_regularizer", None)]
        return buf

    def _penalties(self, add_grads: bool) -> float:
        total = 0.0
        for layer in self._regularized:
            total += layer.regularization_loss()
            if add_grads:
                layer.add_regularization_grads()
        for layer in self._activity:
            total += float(getattr(layer, "activity_loss", 0.0))
        return total

    # -- one batch -----------------------------------------------------------------
    def _losses_and_grads(self, ys, outs, sws, need_grad):
        total, per_output, grads = 0.0, [], []
        for i, out in enumerate(outs):
            loss = self._losses[i]
            if loss is None:
                per_output.append(0.0)
                grads.append(None)
                continue
            fused = self._fused[i]
            if fused is not None:
                pred, loss = fused[0].preactivation(), fused[1]
            else:
                pred = out
            target = loss.prepare_targets(ys[i], pred)
            value, d = loss.value_and_grad(target, pred, sws[i] if sws else None, need_grad)
            weight = self._loss_weights[i]
            if need_grad and weight != 1.0:
                d *= weight
            total += weight * value
            per_output.append(value)
            grads.append(d)
        return total, per_output, grads

    def _compute_gradients(self, xs, ys, sws):
        """Forward, loss and backward for one batch: fills the gradient buffer.

        Returns (total loss with penalties, loss per output, outputs).
        """
        if self._fresh_layers is None:
            self._param_buffer.grads.fill(0)
        else:
            for layer in self._fresh_layers:
                layer.grads_fresh = True
        outs = self._forward(xs, training=True)
        loss, per_output, dys = self._losses_and_grads(ys, outs, sws, need_grad=True)
        for layer in self._fused_layers:
            layer.fused_activation_grad = True
        try:
            self._backward(dys)
        finally:
            for layer in self._fused_layers:
                layer.fused_activation_grad = False
        if self._fresh_layers is not None:
            for layer in self._fresh_layers:
                if layer.grads_fresh:  # no gradient reached it this step
                    layer.zero_grads()
        loss += self._penalties(add_grads=True)
        return loss, per_output, outs

    def _train_step(self, xs, ys, sws):
        loss, per_output, outs = self._compute_gradients(xs, ys, sws)
        buf = self._param_buffer
        if buf.params.size:
            self.optimizer.apply_flat(buf.grads, buf.params)
        return loss, per_output, outs

    def _test_step(self, xs, ys, sws):
        outs = self._forward(xs, training=False)
        loss, per_output, _ = self._losses_and_grads(ys, outs, sws, need_grad=False)
        return loss + self._penalties(add_grads=False), per_output, outs

    # -- metrics -------------------------------------------------------------------
    def _ensure_metrics(self, ys, outs):
        if self._metrics is not None:
            return
        y_shapes = [tuple(y.shape) for y in ys]
        pred_shapes = [tuple(o.shape) for o in outs]
        self._metrics = outputs_module.resolve_metrics(self._metric_spec, self.output_names,
                                                       y_shapes, pred_shapes)
        self._weighted_metrics = outputs_module.resolve_metrics(
            self._weighted_metric_spec, self.output_names, y_shapes, pred_shapes)
        for group in self._weighted_metrics:
            for m in group:
                m.name = m.name if m.name.startswith("weighted_") else f"weighted_{m.name}"
        multi = len(self.output_names) > 1
        self._loss_trackers = [Mean(name=f"{n}_loss") for n in self.output_names] if multi else []
        self._has_metrics = bool(self._loss_trackers or any(self._metrics) or any(self._weighted_metrics))

    @property
    def metrics_names(self) -> list[str]:
        names = ["loss"] + [t.name for t in getattr(self, "_loss_trackers", [])]
        for group in (self._metrics or []) + (getattr(self, "_weighted_metrics", None) or []):
            names += [m.name for m in group]
        return names

    def _reset_metrics(self):
        for group in (self._metrics or []) + (self._weighted_metrics or []):
            for m in group:
                m.reset_state()
        for t in self._loss_trackers:
            t.reset_state()

    def _update_metrics(self, ys, outs, sws, per_output, batch_size):
        for i, group in enumerate(self._metrics):
            for m in group:
                m.update_state(ys[i], outs[i])
        for i, group in enumerate(self._weighted_metrics):
            for m in group:
                m.update_state(ys[i], outs[i], sws[i] if sws else None)
        for tracker, value in zip(self._loss_trackers, per_output):
            tracker.update_state(value, sample_weight=batch_size)

    def _logs(self, loss: float) -> dict:
        logs = {"loss": loss}
        for t in self._loss_trackers:
            logs[t.name] = t.result()
        for group in self._metrics + self._weighted_metrics:
            for m in group:
                logs[m.name] = m.result()
        return logs

    # -- data ----------------------------------------------------------------------
    def _arrays(self, x, y=None, sample_weight=None, class_weight=None):
        xs = data_module.to_array_list(x, self.input_names, "x")
        ys = data_module.to_array_list(y, self.output_names, "y", float_data=False)
        sws = None
        if sample_weight is not None:
            sws = data_module.to_array_list(sample_weight, self.output_names, "sample_weight") \
                if isinstance(sample_weight, (list, dict)) else [
                    backend.as_float_array(sample_weight, "sample_weight")] * len(self.output_names)
        if class_weight is not None:
            if ys is None or len(ys) != 1:
                raise ValueError("`class_weight` is supported for models with exactly one output.")
            cw = data_module.class_weights_to_sample_weights(ys[0], class_weight)
            sws = [cw if sws is None else sws[0] * cw]
        n = data_module.check_counts(xs, ys, sws)
        self._ensure_built_for(xs)
        return xs, ys, sws, n

    def _batches(self, arrays_list, n, batch_size, shuffle, steps=None):
        """Yield per-step lists of batch arrays, by index without copying the data set."""
        if shuffle:
            order = backend.rng().permutation(n)
        count = math.ceil(n / batch_size)
        if steps is not None:
            count = min(count, steps)
        for step in range(count):
            start, stop = step * batch_size, min((step + 1) * batch_size, n)
            if shuffle:
                index = order[start:stop]
                yield [None if arrays is None else data_module.take(arrays, index) for arrays in arrays_list]
            else:
                yield [None if arrays is None else [None if a is None else a[start:stop] for a in arrays]
                       for arrays in arrays_list]

    def _iter_generator(self, source, steps, what):
        """Batches from an iterable of (x, y[, sample_weight]); `steps` limits the count."""
        iterator = iter(source)
        step = 0
        while steps is None or step < steps:
            try:
                batch = next(iterator)
            except StopIteration:
                if step == 0:
                    raise ValueError(f"The data generator passed to {what}() yielded no batch.") from None
                return
            x, y, sw = data_module.unpack_batch(batch, step)
            try:
                xs, ys, sws, _ = self._arrays(x, y, sw)
            except (TypeError, ValueError) as err:
                raise ValueError(f"Batch {step} from the data generator is malformed: {err}") from None
            yield [xs, ys, sws]
            step += 1

    # -- fit -----------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` epochs; returns a :class:`~npkeras.callbacks.History`.

        ``validation_split`` takes the *last* fraction of the samples, before any
        shuffling, exactly as Keras does (so sort order in the data matters). The last
        partial batch is kept. A first Ctrl-C stops after the current step: the model
        keeps the weights of the last completed step, ``model.history`` the completed
        epochs, callbacks get ``on_train_end``, then KeyboardInterrupt is raised.
        """
        self._require_compiled("fit")
        batch_size = data_module.check_batch_size(batch_size)
        if not 0.0 <= float(validation_split) < 1.0:
            raise ValueError(f"`validation_split` must be in [0, 1); received validation_split={validation_split}.")
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"`epochs` must be a non-negative integer; received epochs={epochs!r}.")
        verbose = 1 if verbose == "auto" else int(verbose)

        generator = data_module.is_batch_iterable(x)
        if generator:
            if validation_split:
                raise ValueError("`validation_split` is not supported when x is a generator; "
                                 "pass validation_data instead.")
            n = None
            steps = steps_per_epoch
        else:
            xs, ys, sws, n = self._arrays(x, y, sample_weight, class_weight)
            if ys is None:
                raise ValueError("fit() needs targets `y` when `x` is an array.")
            if validation_split and validation_data is None:
                (xs, xv), (ys, yv) = (data_module.split_tail(xs, n, validation_split),
                                      data_module.split_tail(ys, n, validation_split))
                if sws is not None:
                    sws, swv = data_module.split_tail(sws, n, validation_split)
                else:
                    swv = None
                validation_data = (xv, yv, swv)
                n = len(xs[0])
            steps = math.ceil(n / batch_size)
            if steps_per_epoch is not None:
                steps = min(steps, int(steps_per_epoch))
        val = self._validation_arrays(validation_data)

        self._prepare_parameters()
        self.stop_training = False
        history = History()
        user_callbacks = list(callbacks or [])
        cbs = user_callbacks + ([ProgbarLogger(verbose)] if verbose else []) + [history]
        params = {"epochs": epochs, "steps": steps, "verbose": verbose, "samples": n,
                  "batch_size": batch_size}
        callback_list = CallbackList(cbs, model=self, params=params)
        self.history = history
        flag: dict = {}
        interrupted = False
        nan_reported = False
        epoch_logs: dict = {}
        self._resume_epoch = None
        self._training_interrupted = False
        callback_list.on_train_begin()
        start_epoch = self._resume_epoch if self._resume_epoch is not None else initial_epoch
        batch_logs_wanted = callback_list.wants_train_batch_logs
        try:
            with deferred_interrupts(flag):
                for epoch in range(start_epoch, epochs):
                    loss_sum, seen = 0.0, 0
                    if self._metrics is not None:
                        self._reset_metrics()
                    callback_list.on_epoch_begin(epoch)
                    source = (self._iter_generator(x, steps, "fit") if generator
                              else self._batches([xs, ys, sws], n, batch_size, shuffle, steps))
                    for step, (xb, yb, swb) in enumerate(source):
                        callback_list.on_train_batch_begin(step)
                        loss, per_output, outs = self._train_step(xb, yb, swb)
                        count = len(xb[0])
                        if self._metrics is None:
                            self._ensure_metrics(yb, outs)
                        if self._has_metrics:
                            self._update_metrics(yb, outs, swb, per_output, count)
                        if not math.isfinite(loss) and not nan_reported:
                            nan_reported = True
                            warnings.warn(f"Loss became {loss} at epoch {epoch + 1}, batch {step}. "
                                          "Lower the learning rate, scale the inputs, or add "
                                          "TerminateOnNaN() to stop.", RuntimeWarning, stacklevel=2)
                        loss_sum += loss * count
                        seen += count
                        if batch_logs_wanted:
                            callback_list.on_train_batch_end(step, self._logs(loss_sum / seen))
                        if flag.get("interrupted"):
                            raise KeyboardInterrupt
                        if self.stop_training:
                            break
                    logs = self._logs(loss_sum / seen) if seen else {}
                    epoch_logs = logs
                    if val is not None and (epoch + 1) % validation_freq == 0:
                        val_logs = self._evaluate_arrays(*val, validation_batch_size or batch_size,
                                                         validation_steps)
                        epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
                    callback_list.on_epoch_end(epoch, epoch_logs)
                    if flag.get("interrupted"):
                        raise KeyboardInterrupt
                    if self.stop_training:
                        break
        except KeyboardInterrupt:
            interrupted = True
        self._training_interrupted = interrupted
        callback_list.on_train_end(epoch_logs)
        if interrupted:
            raise KeyboardInterrupt(
                f"Training interrupted after {len(history.epoch)} completed epoch(s); "
                "the model keeps the weights of the last completed step and model.history "
                "holds the completed epochs."
            )
        return history

    def _validation_arrays(self, validation_data):
        if validation_data is None:
            return None
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError("`validation_data` must be a tuple (x_val, y_val) or "
                             "(x_val, y_val, val_sample_weight).")
        xv, yv, *rest = validation_data
        sw = rest[0] if rest else None
        xs, ys, sws, n = self._arrays(xv, yv, sw)
        return xs, ys, sws, n

    # -- evaluate / predict --------------------------------------------------------
    def _evaluate_arrays(self, xs, ys, sws, n, batch_size, steps=None, callback_list=None):
        return self._evaluate_batches(self._batches([xs, ys, sws], n, batch_size, False, steps), callback_list)

    def _evaluate_batches(self, batches, callback_list=None):
        self._prepare_parameters()
        if self._metrics is not None:
            self._reset_metrics()
        loss_sum, seen, logs = 0.0, 0, {}
        for step, (xb, yb, swb) in enumerate(batches):
            if callback_list:
                callback_list.on_test_batch_begin(step)
            loss, per_output, outs = self._test_step(xb, yb, swb)
            self._ensure_metrics(yb, outs)
            count = len(xb[0])
            self._update_metrics(yb, outs, swb, per_output, count)
            loss_sum += loss * count
            seen += count
            logs = self._logs(loss_sum / seen)
            if callback_list:
                callback_list.on_test_batch_end(step, logs)
        return logs

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """Loss and metrics over all of ``x, y``: a float, a list (Keras order) or a dict."""
        self._require_compiled("evaluate")
        batch_size = data_module.check_batch_size(batch_size)
        callback_list = CallbackList(callbacks, model=self)
        callback_list.on_test_begin()
        if data_module.is_batch_iterable(x):
            logs = self._evaluate_batches(self._iter_generator(x, steps, "evaluate"), callback_list)
        else:
            xs, ys, sws, n = self._arrays(x, y, sample_weight)
            if ys is None:
                raise ValueError("evaluate() needs targets `y`.")
            logs = self._evaluate_arrays(xs, ys, sws, n, batch_size, steps, callback_list)
        callback_list.on_test_end(logs)
        if int(1 if verbose == "auto" else verbose):
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for every sample of ``x`` in batches: an array, or a list per output."""
        batch_size = data_module.check_batch_size(batch_size)
        callback_list = CallbackList(callbacks, model=self)
        callback_list.on_predict_begin()
        if data_module.is_batch_iterable(x):
            batches = ([data_module.to_array_list(data_module.unpack_batch(b, i)[0]
                                                  if isinstance(b, tuple) else b, self.input_names, "x")]
                       for i, b in enumerate(x))
            n = None
        else:
            xs = data_module.to_array_list(x, self.input_names, "x")
            n = data_module.check_counts(xs)
            self._ensure_built_for(xs)
            batches = self._batches([xs], n, batch_size, False, steps)
        chunks = None
        for step, (xb,) in enumerate(batches):
            callback_list.on_predict_batch_begin(step)
            outs = self._forward(xb, training=False)
            if chunks is None:
                if n is not None:
                    chunks = [xp.empty((n,) + o.shape[1:], dtype=o.dtype) for o in outs]
                    filled = 0
                else:
                    chunks = [[] for _ in outs]
            if n is not None:
                size = len(outs[0])
                for buf, o in zip(chunks, outs):
                    buf[filled:filled + size] = o
                filled += size
            else:
                for buf, o in zip(chunks, outs):
                    buf.append(o.copy())
            callback_list.on_predict_batch_end(step, {"outputs": outs})
        callback_list.on_predict_end()
        if n is None:
            chunks = [xp.concatenate(c, axis=0) for c in chunks]
        elif steps is not None:
            chunks = [c[:filled] for c in chunks]
        return chunks[0] if len(chunks) == 1 else chunks

    # -- single batches ------------------------------------------------------------
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on one batch; returns the loss (and metrics) of that batch."""
        self._require_compiled("train_on_batch")
        xs, ys, sws, n = self._arrays(x, y, sample_weight, class_weight)
        self._prepare_parameters()
        loss, per_output, outs = self._train_step(xs, ys, sws)
        return self._single_batch_logs(loss, per_output, xs, ys, sws, outs, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss (and metrics) on one batch, without updating weights."""
        self._require_compiled("test_on_batch")
        xs, ys, sws, n = self._arrays(x, y, sample_weight)
        self._prepare_parameters()
        loss, per_output, outs = self._test_step(xs, ys, sws)
        return self._single_batch_logs(loss, per_output, xs, ys, sws, outs, return_dict)

    def _single_batch_logs(self, loss, per_output, xs, ys, sws, outs, return_dict):
        self._ensure_metrics(ys, outs)
        self._reset_metrics()
        self._update_metrics(ys, outs, sws, per_output, len(xs[0]))
        logs = self._logs(loss)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict_on_batch(self, x):
        """Outputs for one batch."""
        xs = data_module.to_array_list(x, self.input_names, "x")
        self._ensure_built_for(xs)
        outs = self._forward(xs, training=False)
        return outs[0] if len(outs) == 1 else outs

