"""The scaled dot-product attention core shared by the attention layers: a masked
softmax fused with its gradient, and ``softmax(q k^T) v`` with its backward, batched over
every leading axis (batch and heads together: one matrix product each, no Python loop)."""

from __future__ import annotations

from npkeras import backend
from npkeras.backend import xp


def masked_softmax(scores, mask=None):
    """Softmax over the last axis of ``scores`` (overwritten), 0 where ``mask`` is False.

    ``mask`` (boolean, broadcastable to ``scores``): True = may attend. A row with no True
    entry comes out all zeros (Keras 3's Softmax multiplies its output by the mask, so a
    fully masked row is zero there too). The row maximum is subtracted first, so large
    scores never overflow.
    """
    if mask is not None:
        xp.copyto(scores, -xp.inf, where=~mask)
    row_max = scores.max(axis=-1, keepdims=True)
    if mask is not None:
        row_max[~xp.isfinite(row_max)] = 0.0  # a fully masked row: every entry is -inf
    scores -= row_max
    xp.exp(scores, out=scores)
    total = scores.sum(axis=-1, keepdims=True)
    if mask is not None:
        total[total == 0] = 1.0
    scores /= total
    return scores


def softmax_backward(probs, dprobs):
    """dL/dscores from dL/dprobs (overwritten): ``p * (dp - sum(dp * p))`` per row; zero
    wherever the softmax was masked, since ``p`` is zero there."""
    row = xp.einsum("...i,...i->...", dprobs, probs)[..., None]
    dprobs -= row
    dprobs *= probs
    return dprobs


def causal_mask(length_q, length_k):
    """``(length_q, length_k)`` lower-triangular boolean mask: position i sees j <= i."""
    return xp.tril(xp.ones((length_q, length_k), dtype=bool))


def attend_scores(scores, v, mask=None, dropout=0.0, rng=None):
    """``softmax(scores, mask) v`` over the leading axes; ``scores`` (overwritten) is
    ``(..., Tq, Tk)``, ``v`` ``(..., Tk, dv)``, ``mask`` boolean broadcastable to the
    scores (True = may attend), ``dropout`` the fraction of probabilities dropped
    (training only; pass 0 else) with ``rng`` (default the backend's generator).

    Returns ``(output (..., Tq, dv), probs before dropout, cache)``.
    """
    probs = masked_softmax(scores, mask)
    keep = None
    used = probs
    if dropout > 0.0:
        rng = rng if rng is not None else backend.rng()
        keep = (rng.random(probs.shape) >= dropout).astype(probs.dtype)
        keep /= 1.0 - dropout
        used = probs * keep
    return xp.matmul(used, v), probs, (v, probs, keep, used)


def attend_scores_backward(doutput, cache, dprobs_extra=None):
    """``(dscores, dv)`` from dL/doutput (and dL/dprobs when the probabilities were an
    output too) for the ``cache`` of :func:`attend_scores`."""
    v, probs, keep, used = cache
    dv = xp.matmul(xp.swapaxes(used, -1, -2), doutput)
    dprobs = xp.matmul(doutput, xp.swapaxes(v, -1, -2))
    if keep is not None:
        dprobs *= keep
    if dprobs_extra is not None:
        dprobs += dprobs_extra
    return softmax_backward(probs, dprobs), dv


def attend(q, k, v, mask=None, dropout=0.0, rng=None):
    """``softmax(q k^T, mask) v``: :func:`attend_scores` with dot-product scores of
    queries ``(..., Tq, d)`` (already scaled) and keys ``(..., Tk, d)``."""
    out, probs, cache = attend_scores(xp.matmul(q, xp.swapaxes(k, -1, -2)), v, mask,
                                      dropout, rng)
    return out, probs, (q, k, cache)


def attend_backward(doutput, cache, dprobs_extra=None):
    """``(dq, dk, dv)`` for the ``cache`` of :func:`attend`."""
    q, k, inner = cache
    dscores, dv = attend_scores_backward(doutput, inner, dprobs_extra)
    return xp.matmul(dscores, k), xp.matmul(xp.swapaxes(dscores, -1, -2), q), dv
