"""Discretization: floats to bucket ids by bin boundaries (given, or learned by ``adapt``)."""

from __future__ import annotations

from npkeras import backend
from npkeras.backend import xp
from npkeras.layers.preprocessing.base import (
    ENCODINGS,
    PreprocessingLayer,
    check_output_mode,
    encode,
    encoded_shape,
)


class Discretization(PreprocessingLayer):
    """Bucket id ``i`` for values in ``[bin_boundaries[i-1], bin_boundaries[i])``.

    Args:
        bin_boundaries: sorted boundaries (``n`` boundaries give ``n + 1`` buckets).
        num_bins: instead of boundaries: the number of buckets ``adapt`` learns from data
            (boundaries at the quantiles 1/num_bins, 2/num_bins, ...; npkeras computes
            exact quantiles where Keras uses an approximate summary with ``epsilon``).
        epsilon: accepted for Keras compatibility.
        output_mode: "int" (bucket ids, int64), "one_hot", "multi_hot" or "count".
        sparse: must be False.

    >>> import numpy as np
    >>> Discretization(bin_boundaries=[0.0, 1.0])(np.array([[-0.5, 0.0, 0.7, 3.0]])).tolist()
    [[0, 1, 1, 2]]
    >>> layer = Discretization(num_bins=2)
    >>> layer.adapt(np.array([1.0, 2.0, 3.0, 4.0]))
    >>> layer.bin_boundaries
    [2.5]
    """

    def __init__(
        self,
        bin_boundaries=None,
        num_bins=None,
        epsilon=0.01,
        output_mode="int",
        sparse=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = f"Discretization layer '{self.name}'"
        if (
            bin_boundaries is not None
            and num_bins is not None
            and len(bin_boundaries) != num_bins - 1
        ):
            raise ValueError(
                "Both `num_bins` and `bin_boundaries` should not be set. Received: "
                f"num_bins={num_bins} and bin_boundaries={bin_boundaries}"
            )
        if num_bins is not None and (
            isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 1
        ):
            raise ValueError(
                f"Received an invalid value for `num_bins` of {owner}, expected a "
                f"positive integer. Received: num_bins={num_bins!r}"
            )
        if sparse:
            raise ValueError(f"{owner}: sparse outputs are not supported; use sparse=False.")
        if bin_boundaries is not None:
            bin_boundaries = [float(b) for b in bin_boundaries]
            if bin_boundaries != sorted(bin_boundaries):
                raise ValueError(
                    f"`bin_boundaries` of {owner} must be sorted. Received: "
                    f"bin_boundaries={bin_boundaries}"
                )
        self.bin_boundaries = bin_boundaries
        self.num_bins = num_bins
        self.epsilon = epsilon
        self.output_mode = check_output_mode(owner, output_mode, ("int",) + ENCODINGS)
        self.sparse = False
        self._samples: list = []

    @property
    def output_dtype(self):
        return "int64" if self.output_mode == "int" else (self.dtype or backend.floatx())

    def _depth(self):
        return len(self.bin_boundaries) + 1

    def transform(self, x):
        if self.bin_boundaries is None:
            raise ValueError(
                f"Discretization layer '{self.name}' has no bin boundaries: pass "
                "`bin_boundaries`, or `num_bins` and call adapt() first."
            )
        ids = xp.digitize(x, xp.asarray(self.bin_boundaries)).astype("int64")
        if self.output_mode == "int":
            return ids
        return encode(ids, self.output_mode, self._depth(), dtype=self.output_dtype)

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        depth = self._depth() if self.bin_boundaries is not None else self.num_bins
        return encoded_shape(input_shape, self.output_mode, depth)

    # -- adapt ---------------------------------------------------------------------
    def reset_adapt_state(self):
        if self.num_bins is None:
            raise ValueError(
                f"Discretization layer '{self.name}' was given `bin_boundaries` "
                "only; a layer made with `num_bins` can adapt."
            )
        self._samples = []

    def update_adapt_state(self, batch):
        self._samples.append(xp.asarray(batch, dtype="float64").reshape(-1))

    def finalize_adapt_state(self):
        values = xp.concatenate(self._samples) if self._samples else xp.zeros(0)
        if not values.size:
            raise ValueError(f"Discretization layer '{self.name}' cannot adapt on empty data.")
        quantiles = xp.arange(1, self.num_bins) / self.num_bins
        self.bin_boundaries = [float(b) for b in xp.quantile(values, quantiles)]
        self._samples = []

    def get_config(self):
        return {
            **super().get_config(),
            "bin_boundaries": self.bin_boundaries,
            "num_bins": self.num_bins,
            "epsilon": self.epsilon,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
        }
