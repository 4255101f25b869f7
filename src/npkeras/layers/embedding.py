"""Embedding: integer ids to dense vectors, with a sparse (touched rows only) gradient."""

from __future__ import annotations

import warnings

from npkeras import backend, constraints, initializers, regularizers
from npkeras.backend import xp
from npkeras.layers.base import DEFAULT_BACKWARD, Layer
from npkeras.layers.core import _positive_int


def as_indices(x, owner):
    """``x`` as an integer array of ids: integer arrays pass unchanged, float arrays of
    ids (what a model's float inputs hold) are cast, as Keras casts to int32."""
    ids = xp.asarray(x)
    if ids.dtype.kind in "iu":
        return ids
    if ids.dtype.kind not in "bf":
        raise TypeError(
            f"{owner} expects integer ids, but received an array of dtype {ids.dtype} with "
            f"shape {ids.shape}. Map tokens to integer ids first (e.g. with a vocabulary)."
        )
    return ids.astype(xp.intp)


def segment_sum_rows(ids, rows):
    """Sum the ``rows`` (n, d) that share an id: returns ``(unique_ids, sums)``.

    Sorting the ids puts equal ones next to each other. An id seen once keeps its row as
    it is; the runs of repeated ids are summed by ``add.reduceat`` over just their rows
    (its cost grows with the number of runs, and most ids of a batch drawn from a large
    vocabulary appear once: 2x faster on uniform ids). Cost O(n log n + n d), whatever
    the vocabulary size: no dense (vocabulary, d) temporary.
    """
    order = xp.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    is_edge = xp.empty(ids.size + 1, bool)  # where a run of equal ids starts, and the end
    is_edge[0] = is_edge[-1] = True
    xp.not_equal(sorted_ids[1:], sorted_ids[:-1], out=is_edge[1:-1])
    edges = xp.flatnonzero(is_edge)
    starts, lengths = edges[:-1], xp.diff(edges)
    once = lengths == 1
    repeated_lengths = lengths[~once]
    repeated_rows = rows[order[xp.repeat(~once, lengths)]]  # the repeated ids' rows, by id
    repeated_starts = xp.concatenate(([0], xp.cumsum(repeated_lengths)[:-1]))
    repeated_sums = (
        xp.add.reduceat(repeated_rows, repeated_starts, axis=0)
        if repeated_lengths.size
        else repeated_rows[:0]
    )
    unique_ids = xp.concatenate((sorted_ids[starts[once]], sorted_ids[starts[~once]]))
    return unique_ids, xp.concatenate((rows[order[starts[once]]], repeated_sums))


class Embedding(Layer):
    """Turns integer ids into dense vectors: ``y[..., :] = embeddings[x[...]]``.

    Args:
        input_dim: vocabulary size (largest id + 1).
        output_dim: size of each vector.
        embeddings_initializer: default ``"uniform"``, RandomUniform(-0.05, 0.05).
        embeddings_regularizer: penalty on the table.
        embeddings_constraint: projection of the table after every optimizer step.
        mask_zero: id 0 is padding: :meth:`compute_mask` returns ``x != 0`` for the layers
            downstream (then ``input_dim`` should be the vocabulary size + 1).
        weights: optional initial table of shape ``(input_dim, output_dim)``.
        input_length: accepted and ignored with a warning, as in Keras 3.

    Shapes: input integer ids ``(batch, ...)`` of any rank, output ``(batch, ...,
    output_dim)``; weight ``embeddings`` ``(input_dim, output_dim)``. No gradient flows to
    the ids: ``backward`` returns None.

    >>> import numpy as np
    >>> emb = Embedding(3, 2, weights=np.array([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]]))
    >>> emb(np.array([[2, 1, 0]])).tolist()
    [[[3.0, 4.0], [1.0, 2.0], [0.0, 0.0]]]
    """

    #: ids reach ``forward`` as integers where the engine supports it; float ids (a
    #: model's float inputs) are cast back, exact below 2**24 in float32
    integer_inputs = True

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        mask_zero: bool = False,
        weights=None,
        **kwargs,
    ):
        if kwargs.pop("input_length", None) is not None:
            warnings.warn("Argument `input_length` is deprecated. Just remove it.", stacklevel=2)
        super().__init__(**kwargs)
        owner = f"Embedding layer '{self.name}'"
        self.input_dim = _positive_int(owner, "input_dim", input_dim)
        self.output_dim = _positive_int(owner, "output_dim", output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self._initial_weights = None if weights is None else xp.asarray(weights)
        if self._initial_weights is not None and self._initial_weights.shape != (
            self.input_dim,
            self.output_dim,
        ):
            raise ValueError(
                f"{owner} expects `weights` of shape (input_dim, output_dim) = "
                f"({self.input_dim}, {self.output_dim}); received shape "
                f"{self._initial_weights.shape}."
            )

    def build(self, input_shape):
        self.add_weight(
            "embeddings",
            (self.input_dim, self.output_dim),
            self.embeddings_initializer,
            regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint,
        )
        if self._initial_weights is not None:
            self.params["embeddings"][...] = self._initial_weights
            self._initial_weights = None
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def compute_mask(self, x, mask=None):
        if not self.mask_zero:
            return None
        return xp.asarray(x) != 0

    def forward(self, x, training=False):
        ids = as_indices(x, f"Embedding layer '{self.name}'")
        outside = (ids < 0) | (ids >= self.input_dim)
        if ids.size and bool(outside.any()):
            bad = int(backend.to_numpy(ids[outside].ravel()[0]))
            raise ValueError(
                f"Embedding layer '{self.name}' received id {bad}, outside the vocabulary "
                f"[0, {self.input_dim}); raise `input_dim` or map unknown tokens to a reserved id."
            )
        self.cache = ids
        return xp.take(self.params["embeddings"], ids, axis=0)

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        """Adds dL/dembeddings; returns None, as ids have no gradient."""
        if self.trainable:
            # dL/dE[v] = sum of dy over the positions holding id v: add into those rows only
            ids, rows = self.cache.reshape(-1), dy.reshape(-1, self.output_dim)
            grad = self.grads["embeddings"]
            if backend.kernels_accept(grad, rows):
                # one pass in C, repeated ids included: 0.1 ms against 6.9 ms for sorting
                # and summing 12,800 rows of 32 (one thread)
                backend.kernels.scatter_add_rows(grad, ids.astype(xp.int64, copy=False), rows)
                return
            unique_ids, sums = segment_sum_rows(ids, rows)
            grad[unique_ids] += sums

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
            "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
            "mask_zero": self.mask_zero,
        }
