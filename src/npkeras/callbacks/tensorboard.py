"""``TensorBoard``: event files for TensorBoard, written with tensorboardX (no TensorFlow)."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import sys
import tempfile
import time
import warnings

from npkeras import backend, optimizers, services, version
from npkeras.backend import host_xp
from npkeras.callbacks.base import Callback

_writer_ids = itertools.count()


def _import_tensorboardx():
    hide_torch = "torch" not in sys.modules
    if hide_torch:
        # tensorboardX imports torch (about 5 s) only to accept torch tensors, which
        # npkeras never passes: a None entry makes that optional import fail fast
        sys.modules["torch"] = None
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError(
            "The TensorBoard callback writes event files with tensorboardX: `pip install "
            "tensorboardX` (or `pip install npkeras[tensorboard]`). TensorFlow is not needed."
        ) from None
    finally:
        if hide_torch:
            del sys.modules["torch"]
    return SummaryWriter


class TensorBoard(Callback):
    """Log training to TensorBoard, laid out as Keras does.

    ``log_dir/train`` receives ``epoch_<metric>`` scalars (step: the epoch), the learning
    rate, the model (its config as text, and its graph when it can be exported to ONNX),
    the run's settings as text, and the histograms; ``log_dir/validation`` receives the
    ``val_`` metrics under the same ``epoch_<metric>`` names, so TensorBoard draws train
    and validation on one chart. View with ``tensorboard --logdir logs``.

    Args:
        log_dir: directory for the event files (created if missing).
        histogram_freq: every this many epochs, log a histogram of each weight
            (``<layer>/<weight>/histogram``) and of its gradient from the epoch's last
            training batch (``<layer>/<weight>/gradient``); 0 turns them off.
        write_graph: log the model config and graph once, at the start of training.
        write_images: with ``histogram_freq``, also log the weights as images, as Keras
            does: a bias as one column, a dense kernel with its long side across, each
            output filter of a 1-D convolution kernel as its own image.
        write_steps_per_second: add ``epoch_steps_per_second`` to the scalars.
        update_freq: ``'epoch'``; ``'batch'`` or an integer ``N`` also log
            ``batch_<metric>`` scalars (running epoch averages, as in the progress bar)
            every N training batches, stepped by the global batch count.
        profile_batch, embeddings_freq, embeddings_metadata: accepted so Keras scripts
            run; profiling and embeddings need TensorFlow, so non-default values only warn.

    >>> import numpy as np, tempfile
    >>> import npkeras as keras
    >>> model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> logs = tempfile.mkdtemp()
    >>> history = model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=2, verbose=0,
    ...                     callbacks=[keras.callbacks.TensorBoard(log_dir=logs)])
    >>> sorted(os.listdir(logs))
    ['train']
    """

    chief_only = True  # in a multi-process job only the chief writes

    def __init__(
        self,
        log_dir="logs",
        histogram_freq: int = 0,
        write_graph: bool = True,
        write_images: bool = False,
        write_steps_per_second: bool = False,
        update_freq="epoch",
        profile_batch=0,
        embeddings_freq: int = 0,
        embeddings_metadata=None,
    ):
        super().__init__()
        if (
            isinstance(histogram_freq, bool)
            or not isinstance(histogram_freq, int)
            or histogram_freq < 0
        ):
            raise ValueError(
                "Received an invalid value for `histogram_freq` of TensorBoard, expected a "
                f"non-negative integer. Received: histogram_freq={histogram_freq!r}"
            )
        if update_freq == "batch":
            update_freq = 1
        elif update_freq != "epoch" and (
            isinstance(update_freq, bool) or not isinstance(update_freq, int) or update_freq < 1
        ):
            raise ValueError(
                "Received an invalid value for `update_freq` of TensorBoard, expected 'epoch', "
                f"'batch' or a positive integer. Received: update_freq={update_freq!r}"
            )
        if profile_batch or embeddings_freq or embeddings_metadata:
            warnings.warn(
                "TensorBoard: profiling and embeddings need TensorFlow; npkeras ignores "
                "`profile_batch`, `embeddings_freq` and `embeddings_metadata`.",
                UserWarning,
                stacklevel=2,
            )
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = bool(write_graph)
        self.write_images = bool(write_images)
        self.write_steps_per_second = bool(write_steps_per_second)
        self.update_freq = update_freq
        self.profile_batch, self.embeddings_freq = profile_batch, embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._writers: dict = {}
        self._global_batch = 0
        self._training = False
        if update_freq != "epoch":
            # an instance hook: with update_freq='epoch' fit builds no per-batch logs at all
            self.on_train_batch_end = self._log_batch
        _import_tensorboardx()  # fail at construction, not after the first epoch

    # -- writers ------------------------------------------------------------------------
    def _writer(self, kind: str):
        """The writer of ``log_dir/train`` or ``log_dir/validation``, opened on first use."""
        if kind not in self._writers:
            # tensorboardX names files by the second: a suffix keeps two runs started in the
            # same second (two quick fits into one log_dir) from overwriting each other
            suffix = f".{os.getpid()}.{next(_writer_ids)}.v2"
            self._writers[kind] = _import_tensorboardx()(
                os.path.join(self.log_dir, kind), filename_suffix=suffix
            )
        return self._writers[kind]

    def _close_writers(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    # -- hooks ----------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._training = True
        self._global_batch = 0
        if self.write_graph:
            self._log_model()
        self._log_run_metadata()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def _log_batch(self, batch, logs=None):
        self._global_batch += 1
        if self._global_batch % self.update_freq == 0:
            writer = self._writer("train")
            for name, value in (logs or {}).items():
                writer.add_scalar(f"batch_{name}", float(value), self._global_batch)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        if self.model is not None and getattr(self.model, "optimizer", None) is not None:
            train.setdefault("learning_rate", float(self.model.optimizer.learning_rate))
        if self.write_steps_per_second:
            steps = self.params.get("steps") or 0
            train["steps_per_second"] = steps / max(time.perf_counter() - self._epoch_start, 1e-9)
        for kind, values in (
            ("train", train),
            ("validation", {k[4:]: v for k, v in logs.items() if k.startswith("val_")}),
        ):
            if values:
                writer = self._writer(kind)
                for name, value in values.items():
                    writer.add_scalar(f"epoch_{name}", float(value), epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        self._training = False
        self._close_writers()

    def on_test_end(self, logs=None):
        # model.evaluate(callbacks=[tensorboard]): stepped by the optimizer's update count
        optimizer = getattr(self.model, "optimizer", None)
        if logs and optimizer is not None:
            writer = self._writer("validation")
            for name, value in logs.items():
                writer.add_scalar(
                    f"evaluation_{name}_vs_iterations", float(value), optimizer.iterations
                )
            if not self._training:  # a standalone evaluate: closing is what writes the file
                self._close_writers()

    # -- what gets logged -----------------------------------------------------------------
    def _log_weights(self, epoch):
        writer = self._writer("train")
        for layer in self.model._all_layers():
            for name, weight in layer.params.items():
                tag = f"{layer.name}/{name}"
                writer.add_histogram(
                    f"{tag}/histogram", backend.to_numpy(weight).astype("float64"), epoch
                )
                grad = layer.grads.get(name)
                if grad is not None and layer._weight_is_trainable(name):
                    writer.add_histogram(
                        f"{tag}/gradient", backend.to_numpy(grad).astype("float64"), epoch
                    )
                image = _as_images(weight) if self.write_images else None
                if image is not None:
                    writer.add_images(f"{tag}/image", image, epoch, dataformats="NHWC")

    def _log_model(self):
        writer = self._writer("train")
        config = json.dumps(json.loads(self.model.to_json()), indent=2)
        # four leading spaces: TensorBoard's text plugin shows it as a code block
        writer.add_text("model_config", "    " + config.replace("\n", "\n    "), 0)
        graph_file = _onnx_graph_file(self.model)
        if graph_file is not None:
            try:
                with contextlib.redirect_stdout(io.StringIO()):  # tensorboardX prints every node
                    writer.add_onnx_graph(graph_file)
            finally:
                os.remove(graph_file)

    def _log_run_metadata(self):

        rows = {
            "npkeras": version.__version__,
            "model": self.model.name,
            "parameters": self.model.count_params(),
            **self.params,
        }
        if getattr(self.model, "optimizer", None) is not None:
            rows["optimizer"] = json.dumps(optimizers.serialize(self.model.optimizer))
        table = "| setting | value |\n|---|---|\n" + "\n".join(
            f"| {key} | {value} |" for key, value in rows.items()
        )
        self._writer("train").add_text("run_metadata", table, 0)


def _as_images(weight):
    """A weight as a batch of one-channel images ``(n, height, width, 1)`` scaled to
    [0, 1], or None for ranks Keras does not draw (4-D and up)."""
    w = host_xp.squeeze(backend.to_numpy(weight).astype("float64"))
    if w.ndim == 1:  # a bias: one column
        w = w[None, :, None]
    elif w.ndim == 2:  # a dense kernel, wider than tall
        w = (w.T if w.shape[0] > w.shape[1] else w)[None]
    elif w.ndim == 3:  # (kernel, in, out): one image per output filter
        w = w.transpose(2, 0, 1)
    else:
        return None
    span = w.max() - w.min()
    scaled = (w - w.min()) / span if span > 0 else host_xp.zeros_like(w)
    return scaled[..., None]


def _onnx_graph_file(model):
    """The model exported to a temporary ONNX file for the graph tab, or None when the
    ``onnx`` package is missing or a layer has no ONNX converter (the config text remains)."""
    try:
        proto = services.use("to_onnx")(model)
    except (ImportError, ValueError):
        return None
    import onnx

    handle, path = tempfile.mkstemp(suffix=".onnx")
    os.close(handle)
    onnx.save(proto, path)
    return path
