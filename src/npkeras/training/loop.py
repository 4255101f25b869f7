"""The training loop: compile / fit / evaluate / predict, for every kind of model.

A model supplies ``_forward(inputs, training) -> outputs`` and ``_backward(output_grads)``
over lists of arrays, plus ``input_names``, ``output_names`` and ``_all_layers()``; this
mixin supplies batching, callbacks and progress around the per-batch steps, and asks the
current :class:`~npkeras.training.distribution.Distribution` which process is the chief.
"""

from __future__ import annotations

import contextlib
import functools
import math
import signal
import threading
import warnings

from npkeras import backend, ops
from npkeras import optimizers as optimizers_module
from npkeras.backend import xp
from npkeras.callbacks.base import CallbackList, History
from npkeras.callbacks.progbar import ProgbarLogger
from npkeras.metrics import Mean, Metric
from npkeras.ops.tape import no_grad, record, value_of
from npkeras.training import data as data_module
from npkeras.training import distribution as distribution_module
from npkeras.training import outputs as outputs_module
from npkeras.training.step import TrainingStep


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


def _ends_every_process_on_error(method):
    """Run ``method`` under the distribution's guard: in a multi-process job an error in
    one process ends all of them at once, instead of leaving the others waiting."""

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        with self.distribution.guard():
            return method(self, *args, **kwargs)

    return guarded


class Trainer:
    """The Keras training API, mixed into :class:`~npkeras.models.Model`.

    ``fit``/``evaluate``/``predict`` run the loop (batching, callbacks, progress); each
    batch goes through ``train_step``/``test_step``/``predict_step``. A model that keeps
    the default steps trains through :class:`~npkeras.training.step.TrainingStep`'s
    fused fast path; a model that overrides a step gets Keras's contract: the step
    receives ``data`` (``(x, y)`` or ``(x, y, sample_weight)``) and returns a logs dict.
    """

    def _init_trainer(self):
        self.optimizer = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._step = None
        self._compile_args = None
        self._compiled_losses = None
        self._loss_weights = None
        self._metrics = None
        self._weighted_metrics = None
        self._loss_trackers = []
        self._has_metrics = False
        self._resume_epoch = None
        self._training_interrupted = False
        self._loss_tracker = Mean(name="loss")
        self._compile_metrics = None

    # -- compile -------------------------------------------------------------------
    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        metrics=None,
        loss_weights=None,
        weighted_metrics=None,
        run_eagerly=False,
        steps_per_execution=1,
        jit_compile="auto",
        auto_scale_loss=True,
    ):
        """Configure training.

        Args:
            optimizer: name or :class:`~npkeras.optimizers.Optimizer` (default 'rmsprop').
            loss: name, :class:`~npkeras.losses.Loss`, a function ``f(y_true, y_pred)``,
                or a list/dict per output. May be None for a model whose ``train_step``
                computes its own loss.
            metrics: list of names/metrics, or a list/dict per output. 'accuracy' picks
                binary, categorical or sparse accuracy from the data as Keras does.
            loss_weights: scalar weight per output (list or dict).
            run_eagerly, steps_per_execution, jit_compile, auto_scale_loss: accepted for
                compatibility with Keras scripts; npkeras always runs eagerly.
        """
        self.optimizer = optimizers_module.get(optimizer)
        self._compile_args = {"loss": loss, "metrics": metrics, "loss_weights": loss_weights}
        self._metric_spec = metrics
        self._weighted_metric_spec = weighted_metrics
        self._resolve_compiled_losses()
        self.compiled = True

    def _resolve_compiled_losses(self):
        names = self.output_names
        args = self._compile_args
        self._compiled_losses = outputs_module.resolve_losses(args["loss"], names)
        self._loss_weights = outputs_module.resolve_loss_weights(args["loss_weights"], names)
        self._metrics = None
        self._compile_metrics = outputs_module.CompileMetrics(self)
        self._step = None

    def _require_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(
                f"You must call `compile()` before `{what}()`: the model has no loss or "
                "optimizer yet. Example: model.compile(optimizer='adam', loss='mse')."
            )

    def _training_step(self) -> TrainingStep:
        if self._step is None:
            if all(loss is None for loss in self._compiled_losses):
                raise ValueError(
                    f"Model '{self.name}' was compiled without a loss, so the default "
                    "train_step has nothing to minimise: pass `loss=` to compile(), or "
                    "override train_step()."
                )
            self._step = TrainingStep(
                self, self.optimizer, self._compiled_losses, self._loss_weights
            )
        return self._step

    def _prepare_parameters(self):
        """Pack the trainable weights into the step's flat buffer; returns the buffer."""
        return self._training_step().prepare()

    # -- the overridable steps -----------------------------------------------------
    def _uses_default_steps(self, name) -> bool:
        return getattr(type(self), name) is getattr(Trainer, name)

    def train_step(self, data):
        """One optimizer step on ``data`` = ``(x, y)`` or ``(x, y, sample_weight)``;
        returns the logs (running loss and metrics). Override to customise ``fit``."""
        x, y, sample_weight = data_module.unpack_batch(data, 0)
        xs, ys, sws, n = self._arrays(x, y, sample_weight)
        step = self._training_step()
        step.prepare()
        loss, per_output, outs = step.train_batch(xs, ys, sws, self.distribution)
        self._loss_tracker.update_state(loss, sample_weight=n)
        self._record_metrics(ys, outs, sws, per_output, n)
        return self._logs(self._loss_tracker.result())

    def test_step(self, data):
        """Loss and metrics on ``data`` without updating weights (used by ``evaluate``)."""
        x, y, sample_weight = data_module.unpack_batch(data, 0)
        xs, ys, sws, n = self._arrays(x, y, sample_weight)
        loss, per_output, outs = self._training_step().test_batch(xs, ys, sws)
        self._loss_tracker.update_state(loss, sample_weight=n)
        self._record_metrics(ys, outs, sws, per_output, n)
        return self._logs(self._loss_tracker.result())

    def predict_step(self, data):
        """The model's outputs for one batch of inputs (used by ``predict``)."""
        x, _, _ = (
            data_module.unpack_batch(data, 0) if isinstance(data, tuple) else (data, None, None)
        )
        return self(x, training=False)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss of ``y_pred`` against ``y`` plus every weight penalty and
        ``add_loss`` term, as a scalar that gradients flow through (under a tape)."""
        if self._compiled_losses is None:
            raise RuntimeError("compute_loss() needs compile(loss=...) first.")
        preds = outputs_module.in_output_order(y_pred, self.output_names, "y_pred")
        targets = data_module.to_array_list(y, self.output_names, "y", float_data=False)
        weights = None
        if sample_weight is not None:
            weights = (
                outputs_module.in_output_order(sample_weight, self.output_names, "sample_weight")
                if isinstance(sample_weight, (list, tuple, dict))
                else [sample_weight] * len(preds)
            )
        total = 0.0
        for i, (loss, pred) in enumerate(zip(self._compiled_losses, preds)):
            if loss is None:
                continue
            value = loss(targets[i], pred, None if weights is None else weights[i])
            total = ops.add(total, ops.multiply(value, self._loss_weights[i]))
        for variable in self.trainable_weights:
            if variable.regularizer is not None:
                total = ops.add(total, _penalty(variable))
        for layer in self._flatten_layers():
            for term in layer._losses:
                total = ops.add(total, ops.stop_gradient(term))
        return total

    @property
    def compiled_loss(self):
        """Keras 2's ``self.compiled_loss(y, y_pred, sample_weight, regularization_losses)``."""

        def compiled_loss(y, y_pred, sample_weight=None, regularization_losses=None):
            return self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)

        return compiled_loss

    @property
    def compiled_metrics(self):
        """The compiled metrics as one object (``update_state(y, y_pred)``, ``result()``)."""
        return self._compile_metrics

    @property
    def metrics(self) -> list:
        """The loss tracker, the compiled metrics and any metric assigned as an attribute
        (reset at the start of each epoch and of ``evaluate``)."""
        found = []
        if self.compiled:
            found.append(self._loss_tracker)
            if self._compile_metrics is not None and self._compile_metrics.has_metrics():
                found.append(self._compile_metrics)
        for attr, value in vars(self).items():
            if (
                isinstance(value, Metric)
                and not attr.startswith("_")
                and all(value is not m for m in found)
            ):
                found.append(value)
        return found

    def reset_metrics(self):
        for metric in self.metrics:
            metric.reset_state()
        self._reset_metrics()

    @property
    def distribution(self):
        return distribution_module.get_distribution()

    # -- metrics -------------------------------------------------------------------
    def _ensure_metrics(self, ys, outs):
        if self._metrics is not None:
            return
        y_shapes = [tuple(y.shape) for y in ys]
        pred_shapes = [tuple(o.shape) for o in outs]
        self._metrics = outputs_module.resolve_metrics(
            self._metric_spec, self.output_names, y_shapes, pred_shapes
        )
        self._weighted_metrics = outputs_module.resolve_metrics(
            self._weighted_metric_spec, self.output_names, y_shapes, pred_shapes
        )
        for group in self._weighted_metrics:
            for m in group:
                m.name = m.name if m.name.startswith("weighted_") else f"weighted_{m.name}"
        multi = len(self.output_names) > 1
        self._loss_trackers = [Mean(name=f"{n}_loss") for n in self.output_names] if multi else []
        self._has_metrics = bool(
            self._loss_trackers or any(self._metrics) or any(self._weighted_metrics)
        )

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
        # the arrays are plain: each metric's own update, without the tensor unwrapping
        for i, group in enumerate(self._metrics):
            for m in group:
                m._update_arrays(ys[i], outs[i])
        for i, group in enumerate(self._weighted_metrics):
            for m in group:
                m._update_arrays(ys[i], outs[i], sws[i] if sws else None)
        for tracker, value in zip(self._loss_trackers, per_output):
            tracker._update_arrays(value, sample_weight=batch_size)

    def _record_metrics(self, ys, outs, sws, per_output, batch_size):
        if self._metrics is None:
            self._ensure_metrics(ys, outs)
        if self._has_metrics:
            self._update_metrics(ys, outs, sws, per_output, batch_size)

    def _logs(self, loss: float) -> dict:
        logs = {"loss": loss}
        for t in self._loss_trackers:
            logs[t.name] = t.result()
        for group in self._metrics + self._weighted_metrics:
            for m in group:
                logs[m.name] = m.result()
        return logs

    # -- data ----------------------------------------------------------------------
    def _input_kinds(self) -> list:
        """Per model input, what its ``keras.Input`` declares (an
        :class:`~npkeras.training.data.InputKind`), or None where nothing is declared
        (subclassed models, a Sequential model before its first data)."""
        if getattr(self, "_subclassed", True) or not self.built:
            return [None] * len(self.input_names)
        tensors = getattr(self, "_input_tensors", None)
        if tensors:  # a graph: the layers reading each input are the plan's steps on its slot
            plan = getattr(self, "_plan", None) or []
            readers = [[step.layer for step in plan if slot in step.inputs]
                       for slot in self._input_slots]
            declared = [(tensor.dtype, tensor.shape) for tensor in tensors]
        else:  # a stack of layers: its Input, read by the first layer
            first = getattr(self, "_input_layer", None)
            if first is None:
                return [None] * len(self.input_names)
            readers = [self.layers[:1]]
            declared = [(first.input_dtype, self.input_shape_spec)]
        return [
            data_module.InputKind(
                dtype, bool(layers) and all(layer.integer_inputs for layer in layers),
                f"input '{name}' of model '{self.name}'", shape)
            for name, layers, (dtype, shape) in zip(self.input_names, readers, declared)
        ]

    def _convert_input(self, value):
        """A model called on arrays: text goes unconverted to inputs that take it (declared
        dtype="string", or read by layers such as TextVectorization); see ``data``."""
        text = data_module.text_array(value)
        if text is not None and any(
            kind is None or kind.dtype == "string" or kind.raw for kind in self._input_kinds()
        ):
            return text
        return super()._convert_input(value)

    def _arrays(self, x, y=None, sample_weight=None, class_weight=None):
        self._note_inputs(x)
        xs = data_module.to_array_list(x, self.input_names, "x", kinds=self._input_kinds())
        ys = data_module.to_array_list(y, self.output_names, "y", float_data=False)
        sws = None
        if sample_weight is not None:
            sws = (
                data_module.to_array_list(sample_weight, self.output_names, "sample_weight")
                if isinstance(sample_weight, (list, dict))
                else [backend.as_float_array(sample_weight, "sample_weight")]
                * len(self.output_names)
            )
        if class_weight is not None:
            if ys is None or len(ys) != 1:
                raise ValueError("`class_weight` is supported for models with exactly one output.")
            cw = data_module.class_weights_to_sample_weights(ys[0], class_weight)
            sws = [cw if sws is None else sws[0] * cw]
        n = data_module.check_counts(xs, ys, sws)
        data_module.check_finite(xs, "x")
        data_module.check_finite(ys, "y")
        data_module.check_finite(sws, "sample_weight")
        self._ensure_built_for(xs)
        if ys is not None and self._compiled_losses is not None:
            self._check_targets(ys)
        return xs, ys, sws, n

    def _check_columns(self, x, fitting: bool) -> None:
        """A pandas DataFrame's column names are kept at ``fit``; a frame with other
        columns (or the same in another order) is refused later, naming the difference."""
        if not data_module.is_pandas(x) or not hasattr(x, "columns"):
            return
        names = [str(c) for c in x.columns]
        known = getattr(self, "feature_names_in_", None)
        if known is None:
            if fitting:
                self.feature_names_in_ = names
            return
        if names != known:
            missing = [c for c in known if c not in names]
            extra = [c for c in names if c not in known]
            detail = (f"missing {missing or 'none'}, unexpected {extra or 'none'}"
                      if missing or extra else "the same names in another order")
            raise ValueError(
                f"The DataFrame's columns differ from those model '{self.name}' was trained "
                f"on ({known}): {detail}. Pass the training columns, in the training order.")

    def _check_targets(self, ys):
        """Each loss's own refusal of targets it cannot mean (integer labels given to
        categorical cross-entropy, binary targets outside [0, 1]), once per data set."""
        shapes = self._known_output_shapes()
        for i, (loss, y) in enumerate(zip(self._compiled_losses, ys)):
            if loss is not None:
                loss.check_targets(y, shapes[i] if shapes else None)

    def _known_output_shapes(self):
        if getattr(self, "_subclassed", False):
            return getattr(self, "_output_shapes", None)
        shape = self.output_shape
        return shape if isinstance(shape, list) else [shape]

    def _batches(self, arrays_list, n, batch_size, shuffle, steps=None, shard=True):
        """Yield per-step lists of batch arrays, by index without copying the data set;
        with ``shard``, this process's rows of each global batch (all of them alone)."""
        distribution = self.distribution
        shard = shard and distribution.world_size > 1
        if shuffle:  # every process must cut the same global batches
            order = distribution.broadcast(backend.permutation(n))
        count = math.ceil(n / batch_size)
        if steps is not None:
            count = min(count, steps)
        for step in range(count):
            start, stop = step * batch_size, min((step + 1) * batch_size, n)
            index = order[start:stop] if shuffle else slice(start, stop)
            yield data_module.rows(arrays_list, distribution.shard(index) if shard else index)

    def _iter_generator(self, source, steps, what):
        """Batches from an iterable of (x, y[, sample_weight]); `steps` limits the count."""
        iterator = iter(source)
        step = 0
        while steps is None or step < steps:
            try:
                batch = next(iterator)
            except StopIteration:
                if step == 0:
                    raise ValueError(
                        f"The data generator passed to {what}() yielded no batch."
                    ) from None
                return
            x, y, sw = data_module.unpack_batch(batch, step)
            try:
                xs, ys, sws, _ = self._arrays(x, y, sw)
            except (TypeError, ValueError) as err:
                raise ValueError(
                    f"Batch {step} from the data generator is malformed: {err}"
                ) from None
            distribution = self.distribution
            if distribution.world_size > 1:
                yield data_module.rows([xs, ys, sws], distribution.shard(slice(0, len(xs[0]))))
            else:
                yield [xs, ys, sws]
            step += 1

    # -- fit -----------------------------------------------------------------------
    @_ends_every_process_on_error
    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
    ):
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
            raise ValueError(
                f"`validation_split` must be in [0, 1); received "
                f"validation_split={validation_split}."
            )
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(
                f"`epochs` must be a non-negative integer; received epochs={epochs!r}."
            )
        verbose = 1 if verbose == "auto" else int(verbose)
        custom = not self._uses_default_steps("train_step")
        distribution = self.distribution
        if custom and distribution.world_size > 1:
            raise ValueError(
                f"Model '{self.name}' overrides train_step(), whose gradients data-parallel "
                "training cannot average; train it in one process, or keep the default step."
            )

        generator = data_module.is_batch_iterable(x)
        if generator:
            if validation_split:
                raise ValueError(
                    "`validation_split` is not supported when x is a generator; "
                    "pass validation_data instead."
                )
            n = None
            steps = steps_per_epoch
            if steps is None and hasattr(x, "__len__"):  # a PyDataset knows its batch count
                steps = len(x)
        else:
            self._check_columns(x, fitting=True)
            xs, ys, sws, n = self._arrays(x, y, sample_weight, class_weight)
            if ys is None and not custom:
                raise ValueError("fit() needs targets `y` when `x` is an array.")
            if validation_split and validation_data is None:
                xs, xv = data_module.split_tail(xs, n, validation_split)
                ys, yv = data_module.split_tail(ys, n, validation_split) if ys else (None, None)
                sws, swv = data_module.split_tail(sws, n, validation_split) if sws else (None, None)
                validation_data = (xv, yv, swv)
                n = len(xs[0])
            steps = math.ceil(n / batch_size)
            if steps_per_epoch is not None:
                steps = min(steps, int(steps_per_epoch))
            distribution.check_batch_size(batch_size, n)
        val = self._validation_arrays(validation_data)

        step_runner = None if custom else self._training_step()
        if step_runner is not None:
            step_runner.prepare()
        self.stop_training = False
        history = History()
        user_callbacks = list(callbacks or [])
        chief = distribution.is_chief
        cbs = user_callbacks + ([ProgbarLogger(verbose)] if verbose and chief else []) + [history]
        params = {
            "epochs": epochs,
            "steps": steps,
            "verbose": verbose,
            "samples": n,
            "batch_size": batch_size,
        }
        callback_list = CallbackList(cbs, model=self, params=params)
        self.history = history
        flag: dict = {}
        interrupted = False
        nan_reported = False
        epoch_logs: dict = {}
        self._resume_epoch = None
        self._training_interrupted = False
        callback_list.on_train_begin({})
        distribution.synchronize(self)
        start_epoch = self._resume_epoch if self._resume_epoch is not None else initial_epoch
        batch_logs_wanted = callback_list.wants_train_batch_logs
        on_batch_begin = callback_list.on_train_batch_begin
        try:
            with deferred_interrupts(flag):
                for epoch in range(start_epoch, epochs):
                    loss_sum, seen = 0.0, 0
                    self.reset_metrics()
                    callback_list.on_epoch_begin(epoch, {})
                    source = (
                        self._iter_generator(x, steps, "fit")
                        if generator
                        else self._batches([xs, ys, sws], n, batch_size, shuffle, steps)
                    )
                    logs = {}
                    for step, (xb, yb, swb) in enumerate(source):
                        on_batch_begin(step)
                        if custom:
                            logs = _flat_logs(self.train_step(_as_data(xb, yb, swb)))
                            loss = logs.get("loss", 0.0)
                        else:
                            loss, per_output, outs = step_runner.train_batch(
                                xb, yb, swb, distribution
                            )
                            count = len(xb[0])
                            if count:  # an empty shard (short last batch) adds nothing
                                self._record_metrics(yb, outs, swb, per_output, count)
                            loss_sum += loss * count
                            seen += count
                        if not math.isfinite(loss) and not nan_reported:
                            nan_reported = True
                            warnings.warn(
                                f"Loss became {loss} at epoch {epoch + 1}, batch {step}: "
                                "that update was skipped. Lower the learning rate, "
                                "scale the inputs, or add TerminateOnNaN() to stop.",
                                RuntimeWarning,
                                stacklevel=2,
                            )
                        if batch_logs_wanted:
                            callback_list.on_train_batch_end(
                                step, logs if custom else self._logs(loss_sum / seen)
                            )
                        if flag.get("interrupted"):
                            raise KeyboardInterrupt
                        if self.stop_training:
                            break
                    if not custom:
                        loss_sum, seen = self._reduce_epoch_state(loss_sum, seen)
                        logs = self._logs(loss_sum / seen) if seen else {}
                    if generator and hasattr(x, "on_epoch_end"):  # PyDataset: shuffle etc.
                        x.on_epoch_end()
                    epoch_logs = dict(logs)
                    if val is not None and (epoch + 1) % validation_freq == 0:
                        # as in Keras, fit's callbacks see the validation pass too
                        callback_list.on_test_begin({})
                        val_logs = self._evaluate_arrays(
                            *val, validation_batch_size or batch_size, validation_steps,
                            callback_list,
                        )
                        callback_list.on_test_end(val_logs)
                        epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
                    callback_list.on_epoch_end(epoch, epoch_logs)
                    if flag.get("interrupted"):
                        raise KeyboardInterrupt
                    if self.stop_training:
                        break
        except KeyboardInterrupt:
            interrupted = True
        except BaseException:
            # a callback or the data raised: callbacks still close their files, then the
            # error goes on to the caller
            self._training_interrupted = True
            callback_list.on_train_end(epoch_logs)
            raise
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
            raise ValueError(
                "`validation_data` must be a tuple (x_val, y_val) or "
                "(x_val, y_val, val_sample_weight)."
            )
        xv, yv, *rest = validation_data
        sw = rest[0] if rest else None
        xs, ys, sws, n = self._arrays(xv, yv, sw)
        return xs, ys, sws, n

    # -- evaluate / predict --------------------------------------------------------
    def _evaluate_arrays(self, xs, ys, sws, n, batch_size, steps=None, callback_list=None):
        self.distribution.check_batch_size(batch_size, n)
        return self._evaluate_batches(
            self._batches([xs, ys, sws], n, batch_size, False, steps), callback_list
        )

    def _evaluate_batches(self, batches, callback_list=None):
        custom = not self._uses_default_steps("test_step")
        step_runner = None if custom else self._training_step()
        if step_runner is not None:
            step_runner.prepare()
        self.reset_metrics()
        loss_sum, seen, logs = 0.0, 0, {}
        with no_grad():
            for step, (xb, yb, swb) in enumerate(batches):
                if callback_list:
                    callback_list.on_test_batch_begin(step, {})
                if custom:
                    logs = _flat_logs(self.test_step(_as_data(xb, yb, swb)))
                elif len(xb[0]):  # an empty shard (short last batch) adds nothing
                    loss, per_output, outs = step_runner.test_batch(xb, yb, swb)
                    count = len(xb[0])
                    self._record_metrics(yb, outs, swb, per_output, count)
                    loss_sum += loss * count
                    seen += count
                    logs = self._logs(loss_sum / seen)
                if callback_list:
                    callback_list.on_test_batch_end(step, logs)
        if not custom:
            loss_sum, seen = self._reduce_epoch_state(loss_sum, seen)
            logs = self._logs(loss_sum / seen) if seen else logs
        return logs

    def _reduce_epoch_state(self, loss_sum, seen):
        """Sum the loss total and the metric states over the processes training together."""
        trackers = [
            m for group in (self._metrics or []) + (self._weighted_metrics or []) for m in group
        ] + self._loss_trackers
        return distribution_module.reduce_epoch_state(self.distribution, trackers, loss_sum, seen)

    @_ends_every_process_on_error
    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps=None,
        callbacks=None,
        return_dict=False,
    ):
        """Loss and metrics over all of ``x, y``: a float, a list (Keras order) or a dict."""
        self._require_compiled("evaluate")
        batch_size = data_module.check_batch_size(batch_size)
        callback_list = CallbackList(callbacks, model=self)
        callback_list.on_test_begin({})
        if data_module.is_batch_iterable(x):
            logs = self._evaluate_batches(self._iter_generator(x, steps, "evaluate"), callback_list)
        else:
            self._check_columns(x, fitting=False)
            xs, ys, sws, n = self._arrays(x, y, sample_weight)
            if ys is None and self._uses_default_steps("test_step"):
                raise ValueError("evaluate() needs targets `y`.")
            logs = self._evaluate_arrays(xs, ys, sws, n, batch_size, steps, callback_list)
        callback_list.on_test_end(logs)
        if int(1 if verbose == "auto" else verbose) and self.distribution.is_chief:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    @_ends_every_process_on_error
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for every sample of ``x`` in batches: an array, or a list per output."""
        batch_size = data_module.check_batch_size(batch_size)
        callback_list = CallbackList(callbacks, model=self)
        callback_list.on_predict_begin({})
        if data_module.is_batch_iterable(x):
            batches = (
                [
                    data_module.to_array_list(
                        data_module.unpack_batch(b, i)[0] if isinstance(b, tuple) else b,
                        self.input_names,
                        "x",
                        kinds=self._input_kinds(),
                    )
                ]
                for i, b in enumerate(x)
            )
            n = None
        else:
            self._note_inputs(x)
            self._check_columns(x, fitting=False)
            xs = data_module.to_array_list(x, self.input_names, "x", kinds=self._input_kinds())
            total = data_module.check_counts(xs)
            data_module.check_finite(xs, "x")
            self._ensure_built_for(xs)
            if steps is not None:
                total = min(total, steps * batch_size)
            # each process predicts one block of rows; the blocks are gathered at the end
            distribution = self.distribution
            sharded = 1 < distribution.world_size <= total
            xs = [
                a[distribution.shard(slice(0, total)) if sharded else slice(0, total)] for a in xs
            ]
            n = len(xs[0])
            batches = self._batches([xs], n, batch_size, False, shard=False)
        custom = not self._uses_default_steps("predict_step")
        chunks = None
        with no_grad():
            for step, (xb,) in enumerate(batches):
                callback_list.on_predict_batch_begin(step, {})
                if custom:
                    out = self.predict_step(xb[0] if len(xb) == 1 else xb)
                    if isinstance(out, dict):
                        out = outputs_module.in_output_order(out, self.output_names, "outputs")
                    outs = [value_of(o) for o in (out if isinstance(out, (list, tuple)) else [out])]
                else:
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
                        buf[filled : filled + size] = o
                    filled += size
                else:
                    for buf, o in zip(chunks, outs):
                        buf.append(o.copy())
                callback_list.on_predict_batch_end(step, {"outputs": outs})
        callback_list.on_predict_end({})
        if n is None:
            chunks = [xp.concatenate(c, axis=0) for c in chunks]
        elif sharded:
            chunks = [distribution.gather_rows(c, total) for c in chunks]
        chunks = [backend.to_numpy(c) for c in chunks]  # predict returns NumPy on every backend
        return outputs_module.as_built(self, chunks[0] if len(chunks) == 1 else chunks)

    # -- single batches ------------------------------------------------------------
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on one batch; returns the loss (and metrics) of that batch."""
        self._require_compiled("train_on_batch")
        xs, ys, sws, n = self._arrays(x, y, sample_weight, class_weight)
        step = self._training_step()
        step.prepare()
        loss, per_output, outs = step.train_batch(xs, ys, sws, self.distribution)
        return self._single_batch_logs(loss, per_output, xs, ys, sws, outs, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss (and metrics) on one batch, without updating weights."""
        self._require_compiled("test_on_batch")
        xs, ys, sws, n = self._arrays(x, y, sample_weight)
        step = self._training_step()
        step.prepare()
        with no_grad():
            loss, per_output, outs = step.test_batch(xs, ys, sws)
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
        self._note_inputs(x)
        xs = data_module.to_array_list(x, self.input_names, "x", kinds=self._input_kinds())
        self._ensure_built_for(xs)
        with no_grad():
            outs = self._forward(xs, training=False)
        return outputs_module.as_built(self, outs[0] if len(outs) == 1 else outs)


def _penalty(variable):
    """A variable's weight penalty as a tape op (its derivative: the regularizer's grad)."""
    regularizer = variable.regularizer
    value = regularizer(variable.value)
    return record(
        xp.asarray(value), (variable,), lambda dy: (dy * regularizer.grad(variable.value),)
    )


def _as_data(xs, ys, sws):
    """The ``data`` a custom step receives: ``(x, y)`` or ``(x, y, sample_weight)``, each
    a single array for a single input/output, else a list."""

    def one(arrays):
        if arrays is None:
            return None
        return arrays[0] if len(arrays) == 1 else list(arrays)

    if sws is None:
        return one(xs), one(ys)
    return one(xs), one(ys), one(sws)


def _flat_logs(logs) -> dict:
    """A step's logs as ``{name: float}``: nested dicts (compiled metrics) flattened,
    tensors and arrays turned into numbers."""
    flat = {}
    for key, value in (logs or {}).items():
        if isinstance(value, dict):
            flat.update(_flat_logs(value))
        else:
            value = value_of(value)
            flat[key] = (
                backend.to_float(value)
                if getattr(value, "size", 1) == 1
                else backend.to_numpy(value)
            )  # logs go to callbacks: host values
    return flat
