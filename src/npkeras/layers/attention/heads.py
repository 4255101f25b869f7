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
    def _scale_of(self, dense):
        """The factor folded into a projection: the query's carries the score scale
        ``1 / sqrt(key_dim)``, so the scores need no pass of their own."""
        return self._scale if dense is self._query_dense else 1.0

    def _kernel_matrix(self, parts):
        """The kernels of ``parts`` side by side, each times its :meth:`_scale_of`, as one
        ``(d, sum of heads * dim)`` matrix, so one product projects an input for all of
        them; and the widths of their column blocks."""
        kernels = []
        for dense, _ in parts:
            kernel = dense.params["kernel"]
            kernel = kernel.reshape(kernel.shape[0], -1)
            scale = self._scale_of(dense)
            kernels.append(kernel if scale == 1.0 else kernel * scale)
        widths = [k.shape[1] for k in kernels]
        return kernels[0] if len(kernels) == 1 else xp.concatenate(kernels, axis=1), widths

    def _bias_vector(self, parts):
        """The biases of ``parts`` (scaled as their kernels) as one row for the columns of
        :meth:`_kernel_matrix`, zeros for a part without one; None when none has one."""
        if not any("bias" in dense.params for dense, _ in parts):
            return None
        return xp.concatenate([
            dense.params["bias"].reshape(-1) * self._scale_of(dense)
            if "bias" in dense.params
            else xp.zeros(dense.params["kernel"][0].size, dense.params["kernel"].dtype)
            for dense, _ in parts
        ])

    @staticmethod
    def _heads_view(columns, n, t, heads):
        """``(n * t, heads * dim)`` columns seen as ``(n, heads, t, dim)``, without a copy."""
        return columns.reshape(n, t, heads, -1).transpose(0, 2, 1, 3)

    def _project(self, x, parts, kernel, widths):
        """x (N, T, d) through each ``(dense, heads)`` of ``parts`` (kernels (d, heads,
        dim); ``kernel, widths`` their :meth:`_kernel_matrix`) with one matrix product: a
        list of (N, heads, T, dim) views of its result."""
        n, t, _ = x.shape
        y = x.reshape(n * t, -1) @ kernel
        bias = self._bias_vector(parts)
        if bias is not None:
            y += bias
        outs, column = [], 0
        for (_, heads), width in zip(parts, widths):
            outs.append(self._heads_view(y[:, column : column + width], n, t, heads))
            column += width
        return outs

    def _gradient_rows(self, x, parts):
        """An empty ``(N * T, sum of heads * dim)`` array for the gradients of the
        projections of ``parts`` from x, and a ``(N, heads, T, dim)`` view of it per dense
        (by id), for the attention core to write into."""
        n, t, _ = x.shape
        widths = [dense.params["kernel"][0].size for dense, _ in parts]
        rows = xp.empty((n * t, sum(widths)), x.dtype)
        views, column = {}, 0
        for (dense, heads), width in zip(parts, widths):
            views[id(dense)] = self._heads_view(rows[:, column : column + width], n, t, heads)
            column += width
        return rows, views

    def _project_backward(self, x, parts, kernel, widths, rows, need_input):
        """Adds each dense's dL/dkernel and dL/dbias (one product for all of ``parts``)
        from ``rows``, the gradients of :meth:`_project`'s columns (``kernel, widths``:
        the forward's :meth:`_kernel_matrix`); returns dL/dx (N, T, d) or None."""
        n, t, _ = x.shape
        dkernel = backend.dot_blocked(x.reshape(n * t, -1).T, rows)
        dbias = backend.column_sum(rows)  # a BLAS product with ones: faster than sum(axis=0)
        column = 0
        for (dense, _), width in zip(parts, widths):
            scale = self._scale_of(dense)
            dense.grads["kernel"] += (dkernel[:, column : column + width] * scale).reshape(
                dense.params["kernel"].shape
            )
            if "bias" in dense.params:
                dense.grads["bias"] += (dbias[column : column + width] * scale).reshape(
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
        # each input's projections with their kernels side by side, kept for the backward
        projections = [
            (x, parts, *self._kernel_matrix(parts)) for x, parts in self._groups(xq, xk, xv)
        ]
        for x, parts, kernel, widths in projections:
            outs = self._project(x, parts, kernel, widths)
            projected.update(zip([id(d) for d, _ in parts], outs))
        q = projected[id(self._query_dense)]  # scaled by its kernel and bias
        k, v = projected[id(self._key_dense)], projected[id(self._value_dense)]
        # query head h reads kv head h // groups: stack each group's queries along time
        # so one batched product per (batch, kv head) serves them all
        q_grouped = q.reshape(n, kv_heads, groups * seq_q.length, -1)
        if mask is not None:
            mask = xp.broadcast_to(mask, (n, seq_q.length, seq_k.length))[:, None, None]
            mask = xp.broadcast_to(mask, (n, kv_heads, groups, seq_q.length, seq_k.length))
            mask = mask.reshape(n, kv_heads, groups * seq_q.length, seq_k.length)
        rate = self.dropout if training else 0.0
        # the heads' outputs side by side per step, as the output projection reads them:
        # written there by the core unless grouped query heads interleave them
        combined = xp.empty((n * seq_q.length, heads * v.shape[-1]), q.dtype)
        out = self._heads_view(combined, n, seq_q.length, heads) if groups == 1 else None
        o, probs, core = attend(q_grouped, k, v, mask, rate, self._rng, out=out)
        if groups > 1:
            self._heads_view(combined, n, seq_q.length, heads)[...] = o.reshape(
                n, heads, seq_q.length, -1
            )
        out_kernel = self._output_dense.params["kernel"]
        y = combined @ out_kernel.reshape(-1, out_kernel.shape[-1])
        if "bias" in self._output_dense.params:
            y += self._output_dense.params["bias"]
        y = seq_q.unfold(y.reshape(n, seq_q.length, -1))
        self.cache = (inputs, (xq, xk, xv), (seq_q, seq_k), combined, core, projections)
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
        inputs, (xq, xk, xv), (seq_q, seq_k), combined, core, projections = self.cache
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
        rows_of, views = {}, {}  # the core writes dq, dk and dv into its projections' rows
        for x, parts, _, _ in projections:
            rows_of[id(x)], group_views = self._gradient_rows(x, parts)
            views.update(group_views)
        dq_view = views[id(self._query_dense)]
        dk_view, dv_view = views[id(self._key_dense)], views[id(self._value_dense)]
        dq, _, _ = attend_backward(
            do, core, dscores, out=(dq_view if groups == 1 else None, dk_view, dv_view)
        )
        if groups > 1:
            dq_view[...] = dq.reshape(n, heads, seq_q.length, -1)
        need = ctx.need_input_grad
        dx_of = {}  # by folded input: its whole gradient (one product per group)
        for x, parts, kernel, widths in projections:
            dx_of[id(x)] = self._project_backward(x, parts, kernel, widths, rows_of[id(x)], need)
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
