"""Callback base class, the list that dispatches hooks, and History."""

from __future__ import annotations


class Callback:
    """Base class with Keras's hooks; override the ones you need.

    ``self.model`` is the model being trained and ``self.params`` holds
    ``epochs``, ``steps`` and ``verbose``.
    """

    #: whether only the chief of a multi-process job runs this callback (the ones that
    #: write files); the others run it on every process, with the same logs
    chief_only = False

    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...


_HOOKS = [name for name in vars(Callback) if name.startswith("on_")]


class CallbackList:
    """Calls each hook on every callback in order; batch hooks only on callbacks that
    override them, so an empty hook costs nothing per step. Every hook receives a
    ``logs`` dict, never None (an empty one when there is nothing to report), and every
    callback has ``model`` and ``params`` set, as in Keras."""

    def __init__(self, callbacks, model=None, params=None):
        self.callbacks = list(callbacks or [])
        distribution = getattr(model, "distribution", None)
        if distribution is not None and not distribution.is_chief:
            self.callbacks = [cb for cb in self.callbacks if not getattr(cb, "chief_only", False)]
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"`callbacks` must hold npkeras.callbacks.Callback instances; received {cb!r}."
                )
            if model is not None:
                cb.set_model(model)
            # also for callbacks whose __init__ skipped super().__init__()
            cb.set_params(dict(params) if params is not None else getattr(cb, "params", None) or {})
        self.wants_train_batch_logs = False
        for hook in _HOOKS:
            active = [
                getattr(cb, hook)
                for cb in self.callbacks
                if hook in vars(cb) or getattr(type(cb), hook) is not getattr(Callback, hook)
            ]
            setattr(
                self,
                hook,
                self._dispatcher(
                    active,
                    takes_index=hook.endswith(
                        ("_batch_begin", "_batch_end", "epoch_begin", "epoch_end")
                    ),
                ),
            )
            if hook == "on_train_batch_end" and active:
                self.wants_train_batch_logs = True

    @staticmethod
    def _dispatcher(methods, takes_index):
        if not methods:
            return lambda *args, **kwargs: None
        position = 1 if takes_index else 0

        def call(*args, logs=None):
            if len(args) > position:  # logs given positionally
                args, logs = args[:position], args[position]
            logs = {} if logs is None else logs
            for method in methods:
                method(*args, logs)

        return call


class History(Callback):
    """Records every epoch's logs: ``history.history['loss']`` is a list, one per epoch."""

    def __init__(self):
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []
        self.history = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
