"""The scaled dot-product attention core shared by the attention layers: a masked
softmax fused with its gradient, and ``softmax(q k^T) v`` with its backward, batched over
every leading axis (batch and heads together: one matrix product each, no Python loop)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

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
    if backend.kernels_accept(scores):  # one pass per row in cache, a vectorised exp
        backend.kernels.softmax_rows(scores)
        return scores
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
    if backend.kernels_accept(probs, dprobs):
        backend.kernels.softmax_rows_backward(probs, dprobs)
        return dprobs
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


#: scores per block of the fused path: small enough that the softmax's passes over a
#: block stay in the L2 cache (4 heads x 128 x 128 float32 is 256 KiB per batch element;
#: 1 MiB blocks measured faster than 256 KiB, 512 KiB and 2 MiB ones here, if noisily)
BLOCK_BYTES = 1 << 20


_pool = None


def _for_blocks(count, bytes_per_item, work):
    """``work(start, stop)`` over blocks of the leading axis, on the calling thread and a
    pool of helpers when there are several cores: NumPy releases the GIL in its loops and
    BLAS calls, so blocks run side by side (elementwise work such as the softmax's exp
    otherwise uses one core). Each thread takes the next block left until none is: the
    caller works instead of waiting, so one thread fewer wakes, and a thread slowed by
    other work takes fewer blocks."""
    global _pool
    size = max(1, BLOCK_BYTES // max(1, bytes_per_item))
    blocks = [(start, min(count, start + size)) for start in range(0, count, size)]
    helpers = min(backend.num_threads(), len(blocks)) - 1
    if helpers == 0:
        for start, stop in blocks:
            work(start, stop)
        return
    if _pool is None or _pool._max_workers < helpers:
        _pool = ThreadPoolExecutor(max_workers=helpers, thread_name_prefix="npkeras-attention")
    pending = iter(blocks)  # shared: taking its next item is atomic under the GIL

    def drain():
        for start, stop in pending:
            work(start, stop)

    futures = [_pool.submit(drain) for _ in range(helpers)]
    try:
        drain()
    finally:
        for future in futures:  # every block written (or its error raised) before returning
            future.result()


def _block(mask, start, stop):
    if mask is None or mask.shape[0] == 1:
        return mask
    return mask[start:stop]


def attend(q, k, v, mask=None, dropout=0.0, rng=None, out=None):
    """``softmax(q k^T, mask) v`` for ``(batch, heads, T, d)`` arrays, fused per block
    of the batch (scores, masked softmax, dropout and the product with ``v`` while the
    block's scores are in cache).

    Args:
        q: ``(n, h, Tq, d)`` queries, already scaled; k: ``(n, h, Tk, d)``; v: ``(n, h,
            Tk, dv)``.
        mask: boolean, broadcastable to ``(n, h, Tq, Tk)``; True = may attend.
        dropout: fraction of the probabilities dropped (training only; pass 0 else).
        rng: the generator for the dropout mask (default the backend's).
        out: where to write the output, any ``(n, h, Tq, dv)`` array or view (a view of
            the heads side by side saves the caller a copy); default a new array.

    Returns ``(output (n, h, Tq, dv), probs (n, h, Tq, Tk) before dropout, cache)``.
    """
    n = q.shape[0]
    probs = xp.empty(q.shape[:-1] + (k.shape[-2],), q.dtype)
    if out is None:
        out = xp.empty(q.shape[:-1] + (v.shape[-1],), q.dtype)
    keep = None
    if dropout > 0.0:  # drawn at once, so threads never change the random stream
        rng = rng if rng is not None else backend.rng()
        keep = (rng.random(probs.shape) >= dropout).astype(probs.dtype)
        keep /= 1.0 - dropout
    kt = xp.swapaxes(k, -1, -2)

    def work(start, stop):
        block = probs[start:stop]
        xp.matmul(q[start:stop], kt[start:stop], out=block)
        masked_softmax(block, _block(mask, start, stop))
        used = block if keep is None else block * keep[start:stop]
        xp.matmul(used, v[start:stop], out=out[start:stop])

    _for_blocks(n, probs[0].nbytes, work)
    return out, probs, (q, k, v, probs, keep)


def attend_backward(doutput, cache, dprobs_extra=None, out=(None, None, None)):
    """``(dq, dk, dv)`` from dL/doutput (and dL/dprobs when the probabilities were an
    output too), for the ``cache`` of :func:`attend`, block by block as the forward;
    written into the arrays or views of ``out`` that are not None."""
    q, k, v, probs, keep = cache
    dq, dk, dv = (
        xp.empty(like.shape, q.dtype) if given is None else given
        for given, like in zip(out, (q, k, v))
    )
    vt = xp.swapaxes(v, -1, -2)

    def work(start, stop):
        block, grad = probs[start:stop], doutput[start:stop]
        used = block if keep is None else block * keep[start:stop]
        xp.matmul(xp.swapaxes(used, -1, -2), grad, out=dv[start:stop])
        dprobs = xp.matmul(grad, vt[start:stop])
        if keep is not None:
            dprobs *= keep[start:stop]
        if dprobs_extra is not None:
            dprobs += dprobs_extra[start:stop]
        dscores = softmax_backward(block, dprobs)
        xp.matmul(dscores, k[start:stop], out=dq[start:stop])
        xp.matmul(xp.swapaxes(dscores, -1, -2), q[start:stop], out=dk[start:stop])

    _for_blocks(q.shape[0], probs[0].nbytes, work)
    return dq, dk, dv
