"""Batch sources for fit/evaluate/predict: ``PyDataset`` (and its old name ``Sequence``)
and ``timeseries_dataset_from_array`` (windows over an array, as NumPy batches)."""

from __future__ import annotations

import math

from npkeras import backend
from npkeras.backend import xp


class PyDataset:
    """A data set of batches, as ``keras.utils.PyDataset``: define ``__len__`` (the number
    of batches) and ``__getitem__(index)`` returning ``(x, y)``, ``(x, y, sample_weight)``
    or ``x`` alone (for predict); ``on_epoch_end`` runs after each training epoch (shuffle
    there). ``fit``/``evaluate``/``predict`` take it in place of arrays.

    Args:
        workers, use_multiprocessing, max_queue_size: accepted for Keras compatibility;
            batches are produced in the training process, one at a time.

    >>> import numpy as np
    >>> class Halves(PyDataset):
    ...     def __init__(self, x, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.x = x
    ...     def __len__(self):
    ...         return 2
    ...     def __getitem__(self, index):
    ...         part = self.x[index * 2:(index + 1) * 2]
    ...         return part, part.sum(axis=1)
    >>> [y.tolist() for _, y in Halves(np.arange(8.0).reshape(4, 2))]
    [[1.0, 5.0], [9.0, 13.0]]
    """

    def __init__(
        self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10
    ):
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __len__(self) -> int:
        raise NotImplementedError(
            f"{type(self).__name__} must define __len__ (the number of batches)."
        )

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index).")

    @property
    def num_batches(self) -> int:
        return len(self)

    def on_epoch_begin(self) -> None:
        """Called before each training epoch."""

    def on_epoch_end(self) -> None:
        """Called after each training epoch."""

    def __iter__(self):
        for index in range(len(self)):
            yield self[index]


#: Keras 2's name
Sequence = PyDataset


class _Windows(PyDataset):
    """Batches of windows of ``data`` (and their targets) by start position."""

    def __init__(self, data, targets, positions, offsets, batch_size):
        super().__init__()
        self.data, self.targets = data, targets
        self.positions, self.offsets, self.batch_size = positions, offsets, batch_size

    def __len__(self):
        return math.ceil(len(self.positions) / self.batch_size)

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"Batch index {index} out of range for {len(self)} batches.")
        index %= len(self)
        starts = self.positions[index * self.batch_size : (index + 1) * self.batch_size]
        windows = self.data[starts[:, None] + self.offsets]  # (batch, sequence_length, ...)
        if self.targets is None:
            return windows
        return windows, self.targets[starts]


def _positive_int(name, value, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer; received {name}={value!r}.")
    return value


def timeseries_dataset_from_array(
    data,
    targets,
    sequence_length,
    sequence_stride=1,
    sampling_rate=1,
    batch_size=128,
    shuffle=False,
    seed=None,
    start_index=None,
    end_index=None,
):
    """Sliding windows over ``data``, batched, as Keras's function of the same name.

    Window ``i`` starts at ``start_index + i * sequence_stride`` and takes
    ``sequence_length`` steps ``sampling_rate`` apart; its target is
    ``targets[start]`` (the target row at the window's first step, as in Keras).

    Args:
        data: array whose first axis is time.
        targets: array aligned with ``data`` (or None for windows only).
        sequence_length, sequence_stride, sampling_rate: window length, distance between
            window starts, and between the steps inside a window.
        batch_size: windows per batch (None: everything in one batch).
        shuffle, seed: shuffle the windows (reproducibly with ``seed``).
        start_index, end_index: only use ``data[start_index:end_index]``.

    Returns:
        A :class:`PyDataset` of ``(windows, targets)`` NumPy batches (or ``windows``),
        which ``fit``/``evaluate``/``predict`` accept and which can be iterated.

    >>> import numpy as np
    >>> ds = timeseries_dataset_from_array(np.arange(6), np.arange(6) * 10, sequence_length=3,
    ...                                    batch_size=2)
    >>> [(w.tolist(), t.tolist()) for w, t in ds]
    [([[0, 1, 2], [1, 2, 3]], [0, 10]), ([[2, 3, 4], [3, 4, 5]], [20, 30])]
    """
    data = xp.asarray(data.to_numpy() if hasattr(data, "to_numpy") else data)
    sequence_length = _positive_int("sequence_length", sequence_length)
    sequence_stride = _positive_int("sequence_stride", sequence_stride)
    sampling_rate = _positive_int("sampling_rate", sampling_rate)
    start = 0 if start_index is None else start_index
    end = len(data) if end_index is None else end_index
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start < len(data):
        raise ValueError(
            f"`start_index` must be an integer in [0, {len(data)}); received "
            f"start_index={start_index!r}."
        )
    if isinstance(end, bool) or not isinstance(end, int) or not start < end <= len(data):
        raise ValueError(
            f"`end_index` must be an integer in ({start}, {len(data)}]; received "
            f"end_index={end_index!r}."
        )
    count = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = xp.asarray(targets.to_numpy() if hasattr(targets, "to_numpy") else targets)
        count = min(count, len(targets) - start)
    if count <= 0:
        raise ValueError(
            f"No window fits: {end - start} time steps give none of sequence_length="
            f"{sequence_length} with sampling_rate={sampling_rate}."
        )
    positions = start + xp.arange(0, count, sequence_stride)
    if shuffle:
        generator = backend.rng() if seed is None else xp.random.default_rng(seed)
        positions = generator.permutation(positions)
    batch = len(positions) if batch_size is None else _positive_int("batch_size", batch_size)
    offsets = xp.arange(sequence_length) * sampling_rate
    return _Windows(data, targets, positions, offsets, batch)
