"""Attention layers: EinsumDense, MultiHeadAttention, GroupedQueryAttention, Attention,
AdditiveAttention."""

from npkeras.layers.attention.attention import AdditiveAttention, Attention
from npkeras.layers.attention.einsum_dense import EinsumDense
from npkeras.layers.attention.multi_head_attention import GroupedQueryAttention, MultiHeadAttention

__all__ = [
    "AdditiveAttention",
    "Attention",
    "EinsumDense",
    "GroupedQueryAttention",
    "MultiHeadAttention",
]
