"""The seam between the training loop and the processes that train together.

The loop asks one :class:`Distribution` four things: which rows of each global batch
this process computes, how to combine the gradient buffers of all processes before the
optimizer step, how to combine metric states and logs, and whether this process is the
chief (the one that writes files and prints). The default is one process: every answer
is "all of it, as it is". Data-parallel training plugs in here without touching layers,
models or ``fit``.
"""

from __future__ import annotations


class Distribution:
    """One process training alone (the default).

    Subclasses override the four hooks; everything else stays as it is.
    """

    #: number of processes training together, and this one's index among them
    world_size = 1
    rank = 0

    def shard(self, index):
        """The part of one global batch (row indices, or a slice) this process computes."""
        return index

    def reduce_gradients(self, grads, rows: int, total_rows: int) -> None:
        """Combine the flat gradient buffer in place across processes: afterwards every
        process holds the gradient of the whole global batch. ``rows`` of the batch's
        ``total_rows`` were computed here."""

    def reduce_metric_states(self, arrays: list) -> list:
        """Sum the metric state arrays over processes (so results equal one process's)."""
        return arrays

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
