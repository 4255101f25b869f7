"""MultiHeadAttention against torch.nn.MultiheadAttention, forward and gradients (float64),
with causal and key-padding masks.

Layout conversion (E = num_heads * key_dim, heads h, head size k): npkeras's query kernel
``(E_in, h, k)`` reshaped to ``(E_in, E)`` and transposed is torch's ``in_proj_weight``
block ``[0:E]`` (torch computes ``x @ W.T``; its rows are head-major, as our reshape);
key and value likewise fill ``[E:2E]`` and ``[2E:3E]``; the biases ``(h, k)`` flatten into
``in_proj_bias``; the output kernel ``(h, k, E)`` reshaped to ``(E, E)`` and transposed is
``out_proj.weight``, its bias ``out_proj.bias``. Masks: ours say True = may attend;
torch's boolean ``attn_mask``/``key_padding_mask`` say True = blocked, so they are negated.
"""

import numpy as np
import pytest

from npkeras.layers import MultiHeadAttention

torch = pytest.importorskip("torch")

HEADS, KEY_DIM, E = 4, 3, 12


def torch_twin(mha):
    wq, bq, wk, bk, wv, bv, wo, bo = (torch.tensor(w) for w in mha.get_weights())
    twin = torch.nn.MultiheadAttention(E, HEADS, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        twin.in_proj_weight.copy_(torch.cat([w.reshape(E, E).T for w in (wq, wk, wv)]))
        twin.in_proj_bias.copy_(torch.cat([b.reshape(E) for b in (bq, bk, bv)]))
        twin.out_proj.weight.copy_(wo.reshape(E, E).T)
        twin.out_proj.bias.copy_(bo)
    return twin


def gradients_to_keras_layout(twin):
    """torch's weight gradients in npkeras's weight order and shapes."""
    g_in, gb_in = twin.in_proj_weight.grad, twin.in_proj_bias.grad
    out = []
    for i in range(3):
        out.append(g_in[i * E : (i + 1) * E].T.reshape(E, HEADS, KEY_DIM).numpy())
        out.append(gb_in[i * E : (i + 1) * E].reshape(HEADS, KEY_DIM).numpy())
    out.append(twin.out_proj.weight.grad.T.reshape(HEADS, KEY_DIM, E).numpy())
    out.append(twin.out_proj.bias.grad.numpy())
    return out


@pytest.mark.parametrize(
    "causal, padding", [(False, False), (True, False), (False, True), (True, True)]
)
@pytest.mark.parametrize("self_attention", [True, False])
def test_mha_matches_torch(float64, causal, padding, self_attention):
    rng = np.random.default_rng(0)
    q = rng.standard_normal((3, 5, E))
    v = q if self_attention else rng.standard_normal((3, 5, E))
    k = q if self_attention else rng.standard_normal((3, 5, E))
    keep = np.ones((3, 5), bool)
    if padding:
        keep[0, 3:] = False
        keep[2, 1:] = False
    mha = MultiHeadAttention(HEADS, KEY_DIM)
    call = {"use_causal_mask": causal}
    if padding:
        call["key_mask"] = keep
    inputs = [q, v] if self_attention else [q, v, k]
    y, scores = mha(*inputs, return_attention_scores=True, **call)
    dy = rng.standard_normal(y.shape)
    for sub in mha._flatten_layers():
        sub.zero_grads()
    mha.forward(inputs, **call)
    dxs = mha.backward(dy)

    twin = torch_twin(mha)
    tq = torch.tensor(q, requires_grad=True)
    tv = tq if self_attention else torch.tensor(v, requires_grad=True)
    tk = tq if self_attention else torch.tensor(k, requires_grad=True)
    attn_mask = torch.triu(torch.ones(5, 5, dtype=torch.bool), 1) if causal else None
    key_padding_mask = torch.tensor(~keep) if padding else None
    ty, tscores = twin(
        tq,
        tk,
        tv,
        attn_mask=attn_mask,
        key_padding_mask=key_padding_mask,
        need_weights=True,
        average_attn_weights=False,
    )
    ty.backward(torch.tensor(dy))

    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(scores, tscores.detach().numpy(), rtol=1e-9, atol=1e-12)
    if self_attention:
        assert dxs[1] is None  # one array for query and value: its gradient comes once
        np.testing.assert_allclose(dxs[0], tq.grad.numpy(), rtol=1e-8, atol=1e-10)
    else:
        for ours, theirs in zip(dxs, (tq, tv, tk)):
            np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-8, atol=1e-10)
    ours_grads = [
        sub.grads[name] for sub in mha._flatten_layers(include_self=False) for name in sub.params
    ]
    for ours, theirs in zip(ours_grads, gradients_to_keras_layout(twin)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)
