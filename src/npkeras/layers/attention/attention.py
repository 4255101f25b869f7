"""Attention (Luong, dot-product or concat scores) and AdditiveAttention (Bahdanau)."""

from __future__ import annotations

from npkeras.backend import xp
from npkeras.layers.attention.heads import as_mask
from npkeras.layers.attention.softmax import (
    attend_scores,
    attend_scores_backward,
    causal_mask,
)
from npkeras.layers.base import DEFAULT_BACKWARD, Layer


class Attention(Layer):
    """Dot-product (Luong-style) attention over a list ``[query, value]`` or ``[query,
    value, key]`` (key defaults to value).

    ``scores = query @ key^T`` (times a learned scalar ``scale`` when ``use_scale``), or
    with ``score_mode="concat"``: ``concat_score_weight * sum(tanh(scale * (q_i + k_j)))``;
    then ``softmax(scores) @ value``.

    Args:
        use_scale: learn the scalar ``scale`` (initialised to 1).
        score_mode: "dot" or "concat".
        dropout: dropout rate on the attention probabilities (training only).
        seed: seed of the dropout.

    Call: ``layer([query, value, key], mask=[query_mask, value_mask],
    return_attention_scores=False, training=None, use_causal_mask=False)``; query
    ``(batch, Tq, dim)``, value/key ``(batch, Tv, dim)``. The output ``(batch, Tq,
    dim_value)`` is zero where ``query_mask`` is False; value positions where
    ``value_mask`` is False get no attention. A fully masked row attends to nothing
    (zeros; Keras's additive -1e9 spreads it uniformly instead).

    >>> import numpy as np
    >>> Attention()([np.ones((1, 2, 3)), np.ones((1, 4, 3))]).shape
    (1, 2, 3)
    """

    supports_masking = True
    _score_modes = ("dot", "concat")

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        kind = type(self).__name__
        if score_mode not in self._score_modes:
            raise ValueError(
                f"Received an invalid value for `score_mode` of {kind} layer '{self.name}', "
                f"expected one of {set(self._score_modes)}. Received: score_mode={score_mode!r}"
            )
        rate = float(dropout)
        if not 0.0 <= rate < 1.0:
            raise ValueError(
                f"Received an invalid value for `dropout` of {kind} layer '{self.name}', "
                f"expected a float in [0, 1). Received: dropout={dropout!r}"
            )
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = rate
        self.seed = seed
        self._rng = None if seed is None else xp.random.default_rng(seed)

    def _check_inputs(self, inputs, mask=None):
        kind = type(self).__name__
        if not isinstance(inputs, (list, tuple)) or not 2 <= len(inputs) <= 3:
            raise ValueError(
                f"{kind} layer '{self.name}' must be called on a list of 2 or 3 inputs, "
                f"namely [query, value] or [query, value, key]. Received: {type(inputs).__name__}"
                + (f" of length {len(inputs)}" if isinstance(inputs, (list, tuple)) else "")
            )
        if mask is not None and (not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3):
            raise ValueError(
                f"{kind} layer '{self.name}' takes `mask` as a list [query_mask, value_mask]. "
                f"Received: mask of type {type(mask).__name__}"
            )

    def build(self, input_shape):
        self._check_inputs(input_shape)
        if self.use_scale:
            self.add_weight("scale", (), "ones")
        if self.score_mode == "concat":
            self.add_weight("concat_score_weight", (), "ones")

    def compute_output_shape(self, input_shape, return_attention_scores=False, **unused):
        out = tuple(input_shape[0][:-1]) + (input_shape[1][-1],)
        if return_attention_scores:
            return [out, (input_shape[0][0], input_shape[0][1], input_shape[1][1])]
        return out

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[0]

    # -- scores: (batch, Tq, Tv) from query and key, and their backward ----------------
    def _scores(self, q, k):
        if self.score_mode == "dot":
            raw = xp.matmul(q, xp.swapaxes(k, -1, -2))
            if self.use_scale:  # keep the unscaled scores for d(scale)
                return raw * self.params["scale"], raw
            return raw, None
        scale = self.params["scale"] if self.use_scale else 1.0
        t = xp.tanh(scale * (q[:, :, None, :] + k[:, None, :, :]))
        return self.params["concat_score_weight"] * t.sum(axis=-1), t

    def _scores_backward(self, dscores, q, k, saved):
        """Adds the weights' gradients; returns (dq, dk)."""
        if self.score_mode == "dot":
            if self.use_scale:
                self.grads["scale"] += (dscores * saved).sum()
                dscores = dscores * self.params["scale"]
            return xp.matmul(dscores, k), xp.matmul(xp.swapaxes(dscores, -1, -2), q)
        t, weight = saved, self.params["concat_score_weight"]
        self.grads["concat_score_weight"] += (dscores * t.sum(axis=-1)).sum()
        dpre = (dscores * weight)[..., None] * (1.0 - t * t)
        if self.use_scale:
            self.grads["scale"] += (dpre * (q[:, :, None, :] + k[:, None, :, :])).sum()
            dpre *= self.params["scale"]
        return dpre.sum(axis=2), dpre.sum(axis=1)

    # -- the layer ----------------------------------------------------------------------
    def forward(
        self,
        inputs,
        training=False,
        mask=None,
        return_attention_scores=False,
        use_causal_mask=False,
    ):
        self._check_inputs(inputs, mask)
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        query_mask = as_mask(mask[0]) if mask is not None else None
        value_mask = as_mask(mask[1]) if mask is not None else None
        scores, saved = self._scores(q, k)
        score_mask = None if value_mask is None else value_mask[:, None, :]
        if use_causal_mask:
            causal = causal_mask(q.shape[1], k.shape[1])[None]
            score_mask = causal if score_mask is None else score_mask & causal
        rate = self.dropout if training else 0.0
        out, probs, core = attend_scores(scores, v, score_mask, rate, self._rng)
        if query_mask is not None:
            out *= query_mask[:, :, None]
        self.cache = (q, k, len(inputs), query_mask, saved, core)
        return (out, probs) if return_attention_scores else out

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        q, k, count, query_mask, saved, core = self.cache
        dprobs = None
        if isinstance(dy, (list, tuple)):
            dy, dprobs = dy
            dprobs = None if dprobs is None else xp.array(dprobs)
        if dy is None:
            dy = xp.zeros((q.shape[0], q.shape[1], core[0].shape[-1]), q.dtype)
        if query_mask is not None:
            dy = dy * query_mask[:, :, None]
        dscores, dv = attend_scores_backward(dy, core, dprobs)
        dq, dk = self._scores_backward(dscores, q, k, saved)
        if not ctx.need_input_grad:
            return None
        if count == 2:
            return [dq, dv + dk]
        return [dq, dv, dk]

    def get_config(self):
        return {
            **super().get_config(),
            "use_scale": self.use_scale,
            "score_mode": self.score_mode,
            "dropout": self.dropout,
            "seed": self.seed,
        }


class AdditiveAttention(Attention):
    """Additive (Bahdanau-style) attention: ``scores = sum(scale * tanh(q_i + k_j))`` over
    the feature axis, with a learned ``scale`` vector ``(dim,)`` (glorot_uniform) when
    ``use_scale`` (the default); then as :class:`Attention`.

    Args:
        use_scale: learn ``scale``.
        dropout: dropout rate on the attention probabilities (training only).
        seed: seed of the dropout.

    >>> import numpy as np
    >>> AdditiveAttention()([np.ones((1, 2, 3)), np.ones((1, 4, 3))]).shape
    (1, 2, 3)
    """

    _score_modes = ("additive",)

    def __init__(self, use_scale=True, dropout=0.0, seed=None, **kwargs):
        super().__init__(
            use_scale=use_scale, score_mode="additive", dropout=dropout, seed=seed, **kwargs
        )

    def build(self, input_shape):
        self._check_inputs(input_shape)
        if self.use_scale:
            self.add_weight("scale", (input_shape[0][-1],), "glorot_uniform")

    def _scores(self, q, k):
        t = xp.tanh(q[:, :, None, :] + k[:, None, :, :])
        weighted = t * self.params["scale"] if self.use_scale else t
        return weighted.sum(axis=-1), t

    def _scores_backward(self, dscores, q, k, t):
        if self.use_scale:
            self.grads["scale"] += xp.einsum("bij,bijd->d", dscores, t)
            dpre = dscores[..., None] * self.params["scale"] * (1.0 - t * t)
        else:
            dpre = dscores[..., None] * (1.0 - t * t)
        return dpre.sum(axis=2), dpre.sum(axis=1)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config
