"""What MultiHeadAttention and GroupedQueryAttention share: projections through
EinsumDense kernels done as single matrix products, the mask arithmetic, Keras's call
signature ``layer(query, value, key=None, ...)`` and the backward pass."""

from __future__ import annotations

import math

from npkeras import backend
from npkeras.backend import xp
from npkeras.layers.attention.softmax import attend, attend_backward, causal_mask
from npkeras.layers.base import DEFAULT_BACKWARD, Layer
from npkeras.layers.node import KerasTensor

MASK_NAMES = ("query_mask", "value_mask", "key_mask", "attention_mask")


def as_mask(mask):
    return None if mask is None else xp.asarray(mask).astype(bool, copy=False)


def combined_mask(
    batch,
    length_q,
    length_k,
    query_mask=None,
    value_mask=None,
    key_mask=None,
    attention_mask=None,
    use_causal_mask=False,
):
    """Keras's attention mask: ``query_mask[:, :, None] & value_mask[:, None, :] &
    key_mask[:, None, :] & causal & attention_mask``, shape ``(batch, Tq, Tk)`` (or None
    when nothing is masked). True = may attend."""
    mask = None

    def both(a, b):
        return b if a is None else a & b

    if query_mask is not None:
        mask = both(mask, as_mask(query_mask).reshape(batch, length_q, 1))
    for padding in (value_mask, key_mask):
        if padding is not None:
            mask = both(mask, as_mask(padding).reshape(batch, 1, length_k))
    if use_causal_mask:
        mask = both(mask, causal_mask(length_q, length_k)[None])
    if attention_mask is not None:
        mask = both(mask, as_mask(attention_mask).reshape(batch, length_q, length_k))
    return mask


class _Sequence:
    """Moves the attention axes of a ``(batch, ..., features)`` array next to the
    features and folds the rest into the batch: ``(batch', T, features)``, and back."""

    def __init__(self, shape, axes):
        rank = len(shape)
        others = [a for a in range(1, rank - 1) if a not in axes]
        self.perm = [0] + others + list(axes) + [rank - 1]
        self.inverse = [self.perm.index(i) for i in range(rank)]
        self.moved = tuple(shape[p] for p in self.perm)
        self.lead = self.moved[: 1 + len(others)]
        self.length = math.prod(shape[a] for a in axes)
        self.flat = (math.prod(self.lead), self.length, shape[-1])

    def fold(self, x):
        return x.transpose(self.perm).reshape(self.flat[:2] + (-1,))

    def unfold(self, y):
        return y.reshape(self.moved[:-1] + y.shape[-1:]).transpose(self.inverse)

    def fold_mask(self, mask):
        if mask is None:
            return None
        mask = as_mask(mask)
        return mask.transpose([p for p in self.perm[:-1]]).reshape(self.flat[:2])


class HeadsAttention(Layer):
    """Base of MultiHeadAttention and GroupedQueryAttention (``num_key_value_heads``
    kv heads serve ``num_heads`` query heads, query head h reading kv head h // groups).

    Subclasses create ``_query_dense``, ``_key_dense``, ``_value_dense`` and
    ``_output_dense`` (EinsumDense, kernels ``(d, heads, dim)`` and
    ``(heads, dim, d_out)``) and set ``_attention_axes`` in ``build``.
    """

    supports_masking = True

    # -- calling ----------------------------------------------------------------------
    def __call__(
        self,
        query=None,
        value=None,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
        mask=None,
        **kwargs,
    ):
        """``layer(query, value, key=None, *, query_mask, value_mask, key_mask,
        attention_mask, return_attention_scores, training, use_causal_mask)`` as in Keras.
        Symbolic masks (KerasTensors) travel as extra graph inputs; array masks as
        constants of the call."""
        masks = dict(zip(MASK_NAMES, (query_mask, value_mask, key_mask, attention_mask)))
        if isinstance(query, (list, tuple)) and value is None:
            # layer([query, value, key]), or a saved graph's [query, value, key, *masks]
            listed = list(query)
            masks.update(zip(kwargs.pop("tensor_masks", ()), listed[3:]))
            query, value, key = (listed + [None, None])[:3]
        if value is None:
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}' needs both `query` and `value`: "
                "call it as layer(query, value) or layer(query=q, value=v, key=k)."
            )
        if mask is not None:  # Keras's propagated masks: [query_mask, value_mask, key_mask]
            for name, given in zip(MASK_NAMES, mask):
                if masks[name] is None:
                    masks[name] = given
        inputs = [query, value] + ([key] if key is not None else [])
        tensor_masks = tuple(n for n, m in masks.items() if isinstance(m, KerasTensor))
        if tensor_masks:
            inputs = [query, value, value if key is None else key]
            inputs += [masks.pop(n) for n in tensor_masks]
            kwargs["tensor_masks"] = tensor_masks
        kwargs.update({n: m for n, m in masks.items() if m is not None})
        if return_attention_scores:
            kwargs["return_attention_scores"] = True
        if use_causal_mask:
            kwargs["use_causal_mask"] = True
        return Layer.__call__(self, inputs, training=training, **kwargs)

    def compute_mask(self, inputs, mask=None):
        """The query's mask (Keras propagates it to the output)."""
        if mask is None:
            return None
        return mask[0] if isinstance(mask, (list, tuple)) else mask

    def compute_output_shape(self, input_shape, return_attention_scores=False, **unused):
        query_shape, value_shape = input_shape[0], input_shape[1]
        out = tuple(query_shape[:-1]) + (self._output_dim(query_shape),)
        if not return_attention_scores:
            return out
        key_shape = input_shape[2] if len(input_shape) > 2 else value_shape
        axes = self._resolve_axes(len(query_shape))
        others = tuple(query_shape[a] for a in range(1, len(query_shape) - 1) if a not in axes)
        scores = (
            (query_shape[0],)
            + others
            + (self.num_heads,)
            + tuple(query_shape[a] for a in axes)
            + tuple(key_shape[a] for a in axes)
        )
        return [out, scores]

    def _resolve_axes(self, rank):
        axes = self.attention_axes
        if axes is None:
            return tuple(range(1, rank - 1))
        axes = (axes,) if isinstance(axes, int) else tuple(axes)
        resolved = tuple(sorted(a % rank for a in axes))
        if any(a in (0, rank - 1) for a in resolved):
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}': `attention_axes` must leave out "
                f"the batch and feature axes of rank-{rank} inputs. Received: "
                f"attention_axes={self.attention_axes}"
            )
        return resolved

    # -- the computation ------------------------------------------------------------------
    @staticmethod
    def _kernel_matrix(parts):
        """The kernels of ``parts`` side by side as one ``(d, sum of heads * dim)``
        matrix, so one product projects an input for all of them."""
        kernels = [
            dense.params["kernel"].reshape(dense.params["kernel"].shape[0], -1)
            for dense, _ in parts
        ]
        return kernels[0] if len(kernels) == 1 else xp.concatenate(kernels, axis=1), [
            k.shape[1] for k in kernels
        ]

    def _project(self, x, parts):
        """x (N, T, d) through each ``(dense, heads)`` of ``parts`` (kernels (d, heads,
        dim)) with one matrix product: a list of (N, heads, T, dim)."""
        kernel, widths = self._kernel_matrix(parts)
        n, t, _ = x.shape
        y = x.reshape(n * t, -1) @ kernel
        outs, column = [], 0
        for (dense, heads), width in zip(parts, widths):
            block = y[:, column : column + width]
            column += width
            if "bias" in dense.params:
                block += dense.params["bias"].reshape(-1)
            outs.append(block.reshape(n, t, heads, -1).transpose(0, 2, 1, 3))
        return outs

    def _project_backward(self, x, parts, dheads, need_input):
        """Adds each dense's dL/dkernel and dL/dbias (one product for all of ``parts``);
        returns dL/dx (N, T, d) or None."""
        kernel, widths = self._kernel_matrix(parts)
        n, t, _ = x.shape
        rows = xp.empty((n * t, sum(widths)), dheads[0].dtype)
        column = 0
        for grad, width in zip(dheads, widths):
            rows[:, column : column + width].reshape(n, t, grad.shape[1], -1)[...] = grad.transpose(
                0, 2, 1, 3
            )
            column += width
        dkernel = backend.dot_blocked(x.reshape(n * t, -1).T, rows)
        dbias = backend.column_sum(rows)  # a BLAS product with ones: faster than sum(axis=0)
        column = 0
        for (dense, _), width in zip(parts, widths):
            dense.grads["kernel"] += dkernel[:, column : column + width].reshape(
                dense.params["kernel"].shape
            )
            if "bias" in dense.params:
                dense.grads["bias"] += dbias[column : column + width].reshape(
                    dense.params["bias"].shape
                )
            column += width
        if not need_input:
            return None
        return (rows @ kernel.T).reshape(n, t, -1)

    def _groups(self, xq, xk, xv):
        """The projections grouped by the array they read: ``[(x, [(dense, heads),
        ...]), ...]`` (self-attention: one group, one matrix product)."""
        heads, kv_heads = self.num_heads, self._kv_heads()
        parts = [
            (xq, (self._query_dense, heads)),
            (xk, (self._key_dense, kv_heads)),
            (xv, (self._value_dense, kv_heads)),
        ]
        groups = []
        for x, part in parts:
            for group_x, members in groups:
                if group_x is x:
                    members.append(part)
                    break
            else:
                groups.append((x, [part]))
        return groups

    def forward(
        self,
        inputs,
        training=False,
        mask=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        use_causal_mask=False,
        tensor_masks=(),
    ):
        if not isinstance(inputs, (list, tuple)):
            inputs = [inputs, inputs]
        masks = dict(zip(MASK_NAMES, (query_mask, value_mask, key_mask, attention_mask)))
        masks.update(zip(tensor_masks, inputs[3:]))
        if mask is not None:
            for name, given in zip(MASK_NAMES, mask):
                masks[name] = given if masks[name] is None else masks[name]
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        axes = self._resolve_axes(query.ndim)
        seq_q, seq_k = _Sequence(query.shape, axes), _Sequence(key.shape, axes)
        if masks["attention_mask"] is not None and len(seq_q.lead) > 1:
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}' supports `attention_mask` only "
                "when the attention axes are every axis between batch and features."
            )
        folded = {}  # one folded array per distinct input, so shared inputs stay shared
        xq = folded.setdefault(id(query), seq_q.fold(query))
        xk = folded[id(key)] if id(key) in folded else folded.setdefault(id(key), seq_k.fold(key))
        xv = folded[id(value)] if id(value) in folded else seq_k.fold(value)
        n = xq.shape[0]
        mask = combined_mask(
            n,
            seq_q.length,
            seq_k.length,
            seq_q.fold_mask(masks["query_mask"]),
            seq_k.fold_mask(masks["value_mask"]),
            seq_k.fold_mask(masks["key_mask"]),
            masks["attention_mask"],
            use_causal_mask,
        )
        heads, kv_heads = self.num_heads, self._kv_heads()
        groups = heads // kv_heads
        projected = {}
        for x, parts in self._groups(xq, xk, xv):
            projected.update(zip([id(d) for d, _ in parts], self._project(x, parts)))
        q = projected[id(self._query_dense)] * self._scale
        k, v = projected[id(self._key_dense)], projected[id(self._value_dense)]
        # query head h reads kv head h // groups: stack each group's queries along time
        # so one batched product per (batch, kv head) serves them all
        q_grouped = q.reshape(n, kv_heads, groups * seq_q.length, -1)
        if mask is not None:
            mask = xp.broadcast_to(mask, (n, seq_q.length, seq_k.length))[:, None, None]
            mask = xp.broadcast_to(mask, (n, kv_heads, groups, seq_q.length, seq_k.length))
            mask = mask.reshape(n, kv_heads, groups * seq_q.length, seq_k.length)
        rate = self.dropout if training else 0.0
        o, probs, core = attend(q_grouped, k, v, mask, rate, self._rng)
        o = o.reshape(n, heads, seq_q.length, -1)
        combined = o.transpose(0, 2, 1, 3).reshape(n * seq_q.length, -1)
        out_kernel = self._output_dense.params["kernel"]
        y = combined @ out_kernel.reshape(-1, out_kernel.shape[-1])
        if "bias" in self._output_dense.params:
            y += self._output_dense.params["bias"]
        y = seq_q.unfold(y.reshape(n, seq_q.length, -1))
        self.cache = (inputs, (xq, xk, xv), (seq_q, seq_k), combined, core)
        if not return_attention_scores:
            return y
        scores = probs.reshape(seq_q.lead + (heads, seq_q.length, seq_k.length))
        scores = scores.reshape(
            seq_q.lead
            + (heads,)
            + seq_q.moved[len(seq_q.lead) : -1]
            + seq_k.moved[len(seq_k.lead) : -1]
        )
        return y, scores

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        inputs, (xq, xk, xv), (seq_q, seq_k), combined, core = self.cache
        dscores = None
        if isinstance(dy, (list, tuple)):  # (output, attention scores) were both returned
            dy, dscores = dy
        n, heads, kv_heads = xq.shape[0], self.num_heads, self._kv_heads()
        groups = heads // kv_heads
        dense = self._output_dense
        out_kernel = dense.params["kernel"]
        if dy is None:
            rows = xp.zeros((n * seq_q.length, out_kernel.shape[-1]), combined.dtype)
        else:
            rows = seq_q.fold(dy).reshape(n * seq_q.length, -1)
        dense.grads["kernel"] += backend.dot_blocked(combined.T, rows).reshape(out_kernel.shape)
        if "bias" in dense.params:
            dense.grads["bias"] += backend.column_sum(rows)
        do = rows @ out_kernel.reshape(-1, out_kernel.shape[-1]).T
        do = do.reshape(n, seq_q.length, heads, -1).transpose(0, 2, 1, 3)
        do = do.reshape(n, kv_heads, groups * seq_q.length, -1)
        if dscores is not None:
            dscores = xp.array(dscores).reshape(n, kv_heads, groups * seq_q.length, -1)
        dq, dk, dv = attend_backward(do, core, dscores)
        dq = dq.reshape(n, heads, seq_q.length, -1) * self._scale
        need = ctx.need_input_grad
        grads_of = {id(self._query_dense): dq, id(self._key_dense): dk, id(self._value_dense): dv}
        dx_of = {}  # by folded input: its whole gradient (one product per group)
        for x, parts in self._groups(xq, xk, xv):
            dx_of[id(x)] = self._project_backward(
                x, parts, [grads_of[id(d)] for d, _ in parts], need
            )
        if not need:
            return None
        # inputs: [query, value, key?, masks...]; an array given twice gets its gradient
        # in its first slot only (the engine adds the slots of one tensor together)
        sources = [(xq, seq_q), (xv, seq_k), (xk, seq_k)][: min(len(inputs), 3)]
        grads, seen = [], set()
        for x, seq in sources:
            grads.append(None if id(x) in seen else seq.unfold(dx_of[id(x)]))
            seen.add(id(x))
        grads += [None] * (len(inputs) - len(grads))
        return grads
