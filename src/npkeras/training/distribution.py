"""The seam between the training loop and the processes that train together.

The loop asks one :class:`Distribution` a few things: which rows of each global batch
this process computes (:meth:`~Distribution.shard`), how to combine the gradient buffers
of all processes before the optimizer step, how to combine metric states, how to make
every process start from the same weights, and whether this process is the chief (the
one that writes files and prints). The default is one process: every answer is "all of
it, as it is". Data-parallel training (:mod:`npkeras.distribution`, over MPI) plugs in
here without touching layers, models or ``fit``.
"""

from __future__ import annotations

import contextlib


class Distribution:
    """One process training alone (the default).

    Subclasses override the hooks; everything else stays as it is.
    """

    #: number of processes training together, and this one's index among them
    world_size = 1
    rank = 0

    def shard(self, index):
        """The part of one global batch (row indices, or a slice) this process computes."""
        return index

    def check_batch_size(self, batch_size: int, rows: int) -> None:
        """Raise ValueError when global batches of ``batch_size`` over ``rows`` samples
        would leave a process without rows in the first batch."""

    def reduce_gradients(self, buffer, rows: int, loss: float) -> float:
        """Combine ``buffer.grads`` (a :class:`~npkeras.training.parameters.ParameterBuffer`)
        in place across processes, so that every process holds the gradient of the whole
        global batch, exactly as one process computing all of it would. ``rows`` of the
        global batch were computed here, with mean loss ``loss``; returns the mean loss of
        the global batch."""
        return loss

    def reduce_metric_states(self, values: list) -> list:
        """Sum metric states (floats and arrays, the same layout on every process) over
        the processes, so that results computed from them equal one process's."""
        return values

    def broadcast(self, array):
        """The chief's ``array`` on every process (in place where possible)."""
        return array

    def synchronize(self, model) -> None:
        """Give every process the chief's weights, optimizer state and resume epoch
        (called by ``fit`` after the callbacks' ``on_train_begin``)."""

    def gather_rows(self, array, total_rows: int):
        """The rows every process computed for its :meth:`shard` of ``total_rows`` rows,
        concatenated in order (used by ``predict``)."""
        return array

    def guard(self):
        """A context in which an exception on this process ends every process."""
        return contextlib.nullcontext()

    @property
    def is_chief(self) -> bool:
        """Whether this process writes files, logs and the progress bar."""
        return True


_current = [Distribution()]


def get_distribution() -> Distribution:
    """The distribution training uses now."""
    return _current[0]


def set_distribution(distribution: Distribution | None) -> None:
    """Train with ``distribution`` from now on (None: back to one process)."""
    _current[0] = distribution if distribution is not None else Distribution()


def reduce_epoch_state(
    distribution: Distribution, metrics: list, loss_sum: float, seen: float
) -> tuple[float, float]:
    """Sum ``loss_sum``, ``seen`` and the states of ``metrics`` over the processes, so
    that every process's epoch logs equal those of one process that saw every batch.

    Returns the summed ``(loss_sum, seen)``; the metrics hold the summed states.
    """
    if distribution.world_size == 1:
        return loss_sum, seen
    # a metric's state is its variables (made with add_variable), which add up
    variables = [variable for metric in metrics for variable in metric.variables]
    reduced = distribution.reduce_metric_states([loss_sum, seen] + [v.value for v in variables])
    for variable, value in zip(variables, reduced[2:]):
        variable.assign(value)
    return float(reduced[0]), float(reduced[1])
