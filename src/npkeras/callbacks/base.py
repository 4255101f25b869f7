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
    override them, so an empty hook costs nothing per step."""

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
            if params is not None:
                cb.set_params(params)
        self.wants_train_batch_logs = False
        for hook in _HOOKS:
            active = [getattr(cb, hook) for cb in self.callbacks
                      if hook in vars(cb) or getattr(type(cb), hook) is not getattr(Callback, hook)]
            setattr(self, hook, self._dispatcher(active))
            if hook == "on_train_batch_end" and active:
                self.wants_train_batch_logs = True

    @staticmethod
    def _dispatcher(methods):
        if not methods:
            return lambda *args, **kwargs: None

        def call(*args, **kwargs):
            for method in methods:
                method(*args, **kwargs)

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
