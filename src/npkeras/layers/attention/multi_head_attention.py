"""MultiHeadAttention and GroupedQueryAttention with Keras 3's signatures and weights."""

from __future__ import annotations

import math

from npkeras import constraints, initializers, regularizers
from npkeras.backend import xp
from npkeras.layers.attention.einsum_dense import EinsumDense
from npkeras.layers.attention.heads import HeadsAttention
from npkeras.layers.core import _positive_int


def _dropout_rate(owner, dropout):
    rate = float(dropout)
    if not 0.0 <= rate < 1.0:
        raise ValueError(
            f"Received an invalid value for `dropout` of {owner}, expected a float in "
            f"[0, 1). Received: dropout={dropout!r}"
        )
    return rate


class _ProjectionSettings:
    """The initializer/regularizer/constraint arguments every projection of a layer shares."""

    def _store_projection_settings(
        self, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer, seed,
        kernel_constraint=None, bias_constraint=None,
    ):
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.seed = seed
        self._rng = None if seed is None else xp.random.default_rng(seed)

    def _dense(self, equation, output_shape, bias_axes, name, input_shape):
        """A built EinsumDense sublayer (each draws its own initial kernel, as in Keras)."""
        layer = EinsumDense(
            equation,
            output_shape,
            bias_axes=bias_axes if self.use_bias else None,
            kernel_initializer=initializers.get(initializers.serialize(self.kernel_initializer)),
            bias_initializer=self.bias_initializer,
            kernel_regularizer=self.kernel_regularizer,
            bias_regularizer=self.bias_regularizer,
            kernel_constraint=self.kernel_constraint,
            bias_constraint=self.bias_constraint,
            name=name,
            dtype=self.dtype,
        )
        layer._maybe_build(tuple(input_shape))
        return layer

    def _projection_config(self):
        return {
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "seed": self.seed,
        }


class MultiHeadAttention(_ProjectionSettings, HeadsAttention):
    """Multi-head attention (Vaswani et al., 2017, https://arxiv.org/abs/1706.03762).

    Each head projects query, key and value, attends with ``softmax(q k^T / sqrt(key_dim))``
    and the heads' results are projected back to ``output_shape`` (default the query's
    feature size).

    Args:
        num_heads: number of heads.
        key_dim: size of each query and key head.
        value_dim: size of each value head (default ``key_dim``).
        dropout: dropout rate on the attention probabilities (training only).
        use_bias: projections have biases.
        output_shape: size of the output's last axis (default the query's).
        attention_axes: the axes attended over (default every axis between batch and
            features); the others act as extra batch axes.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer: of the
            four projections.
        seed: seed of the dropout.

    Call: ``layer(query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
    attention_mask=None, return_attention_scores=False, training=None,
    use_causal_mask=False)``; masks are boolean, True = attend; ``attention_mask`` is
    ``(batch, Tq, Tk)``. Returns ``(batch, Tq, out)`` and, when asked, the attention
    probabilities ``(batch, heads, Tq, Tk)``.

    Weights (Keras's order and layout): ``query/kernel (d_q, heads, key_dim)``,
    ``query/bias (heads, key_dim)``, the same for key and value (``value_dim``), then
    ``attention_output/kernel (heads, value_dim, out)`` and ``attention_output/bias
    (out,)``.

    Masks: the output's mask is the query's (``compute_mask``). The graph engine must
    hand the masks of the query, value (and key) inputs to ``forward(..., mask=[qm, vm,
    km])``; e.g. after ``Embedding(mask_zero=True)`` both carry the padding mask.

    >>> import numpy as np
    >>> mha = MultiHeadAttention(num_heads=2, key_dim=4)
    >>> x = np.ones((1, 3, 8))
    >>> mha(x, x).shape, [w.shape for w in mha.get_weights()][:2]
    ((1, 3, 8), [(8, 2, 4), (2, 4)])
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        attention_axes=None,
        flash_attention=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = f"MultiHeadAttention layer '{self.name}'"
        self.num_heads = _positive_int(owner, "num_heads", num_heads)
        self.key_dim = _positive_int(owner, "key_dim", key_dim)
        self.value_dim = (
            self.key_dim if value_dim is None else _positive_int(owner, "value_dim", value_dim)
        )
        self.dropout = _dropout_rate(owner, dropout)
        self.use_bias = bool(use_bias)
        if isinstance(output_shape, (list, tuple)):
            if len(output_shape) != 1:
                raise ValueError(
                    f"{owner} supports an `output_shape` of one axis only. Received: "
                    f"output_shape={output_shape!r}"
                )
            output_shape = output_shape[0]
        self._output_shape = (
            None if output_shape is None else _positive_int(owner, "output_shape", output_shape)
        )
        self.attention_axes = attention_axes
        self._store_projection_settings(
            kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer, seed,
            kernel_constraint, bias_constraint,
        )
        self._scale = 1.0 / math.sqrt(self.key_dim)

    def _kv_heads(self):
        return self.num_heads

    def _output_dim(self, query_shape):
        return self._output_shape or query_shape[-1]

    # Keras's public names of the projections (also their paths in a .weights.h5 file)
    @property
    def query_dense(self):
        return self._query_dense

    @property
    def key_dense(self):
        return self._key_dense

    @property
    def value_dense(self):
        return self._value_dense

    @property
    def output_dense(self):
        return self._output_dense

    def build(self, input_shape):
        query_shape, value_shape = input_shape[0], input_shape[1]
        key_shape = input_shape[2] if len(input_shape) > 2 else value_shape
        self._resolve_axes(len(query_shape))
        heads = self.num_heads
        self._query_dense = self._dense(
            "abc,cde->abde",
            (None, heads, self.key_dim),
            "de",
            "query",
            (None, None, query_shape[-1]),
        )
        self._key_dense = self._dense(
            "abc,cde->abde", (None, heads, self.key_dim), "de", "key", (None, None, key_shape[-1])
        )
        self._value_dense = self._dense(
            "abc,cde->abde",
            (None, heads, self.value_dim),
            "de",
            "value",
            (None, None, value_shape[-1]),
        )
        self._output_dense = self._dense(
            "abcd,cde->abe",
            (None, self._output_dim(query_shape)),
            "e",
            "attention_output",
            (None, None, heads, self.value_dim),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "output_shape": self._output_shape,
            "attention_axes": self.attention_axes,
            **self._projection_config(),
        }


class GroupedQueryAttention(_ProjectionSettings, HeadsAttention):
    """Grouped-query attention (Ainslie et al., 2023, https://arxiv.org/abs/2305.13245):
    ``num_query_heads`` query heads share ``num_key_value_heads`` key/value heads, query
    head h reading kv head ``h // (num_query_heads // num_key_value_heads)``.

    Args:
        head_dim: size of every head.
        num_query_heads, num_key_value_heads: head counts (the first a multiple of the
            second).
        dropout, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
            bias_regularizer, seed: as MultiHeadAttention.

    Call and masks: as MultiHeadAttention. Weights: ``query/kernel (d, q_heads,
    head_dim)``, key and value ``(d, kv_heads, head_dim)`` with biases ``(heads,
    head_dim)``, ``attention_output/kernel (q_heads, head_dim, d_query)``.

    >>> import numpy as np
    >>> gqa = GroupedQueryAttention(head_dim=4, num_query_heads=4, num_key_value_heads=2)
    >>> gqa(np.ones((1, 3, 8)), np.ones((1, 5, 8))).shape
    (1, 3, 8)
    """

    attention_axes = None

    def __init__(
        self,
        head_dim,
        num_query_heads,
        num_key_value_heads,
        dropout=0.0,
        use_bias=True,
        flash_attention=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = f"GroupedQueryAttention layer '{self.name}'"
        self.head_dim = _positive_int(owner, "head_dim", head_dim)
        self.num_query_heads = _positive_int(owner, "num_query_heads", num_query_heads)
        self.num_key_value_heads = _positive_int(owner, "num_key_value_heads", num_key_value_heads)
        if self.num_query_heads % self.num_key_value_heads:
            raise ValueError(
                f"{owner}: `num_query_heads` must be divisible by `num_key_value_heads`. "
                f"Received: num_query_heads={num_query_heads}, "
                f"num_key_value_heads={num_key_value_heads}"
            )
        self.dropout = _dropout_rate(owner, dropout)
        self.use_bias = bool(use_bias)
        self._store_projection_settings(
            kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer, seed,
            kernel_constraint, bias_constraint,
        )
        self._scale = 1.0 / math.sqrt(self.head_dim)

    @property
    def num_heads(self):
        return self.num_query_heads

    def _kv_heads(self):
        return self.num_key_value_heads

    def _output_dim(self, query_shape):
        return query_shape[-1]

    def build(self, input_shape):
        query_shape, value_shape = input_shape[0], input_shape[1]
        key_shape = input_shape[2] if len(input_shape) > 2 else value_shape
        dim, q_heads, kv_heads = self.head_dim, self.num_query_heads, self.num_key_value_heads
        self._query_dense = self._dense(
            "bqm,muh->bquh", (None, q_heads, dim), "uh", "query", (None, None, query_shape[-1])
        )
        self._key_dense = self._dense(
            "bkm,mvh->bkvh", (None, kv_heads, dim), "vh", "key", (None, None, key_shape[-1])
        )
        self._value_dense = self._dense(
            "bkm,mvh->bkvh", (None, kv_heads, dim), "vh", "value", (None, None, value_shape[-1])
        )
        self._output_dense = self._dense(
            "bquh,uhm->bqm",
            (None, query_shape[-1]),
            "m",
            "attention_output",
            (None, None, q_heads, dim),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "head_dim": self.head_dim,
            "num_query_heads": self.num_query_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "dropout": self.dropout,
            **self._projection_config(),
        }
