"""keras.ops against their PyTorch twins: forward values and gradients (float64).

Each row gives the npkeras call and the torch call on the same arrays (same layouts:
NumPy and torch both keep C order, so no conversion is needed). The gradient compared
is that of ``sum(op(inputs) * r)`` for a fixed random ``r``, through npkeras's
``GradientTape`` and through torch autograd.
"""

import numpy as np
import pytest

from npkeras import GradientTape, ops
from tests.ops.checks import make_input

torch = pytest.importorskip("torch")
F = torch.nn.functional

# name: (npkeras op, torch op, input shapes, input domains)
TWINS = {
    "add": (ops.add, torch.add, [(2, 3, 4), (4,)], "real"),
    "subtract": (ops.subtract, torch.sub, [(3, 1), (1, 4)], "real"),
    "multiply": (ops.multiply, torch.mul, [(2, 3, 4), (3, 1)], "real"),
    "divide": (ops.divide, torch.div, [(3, 4), (4,)], ("real", "away")),
    "power": (ops.power, torch.pow, [(3, 4), (3, 4)], ("positive", "real")),
    "mod": (ops.mod, torch.remainder, [(3, 4), (4,)], ("real", "away")),
    "maximum": (ops.maximum, torch.maximum, [(3, 4), (4,)], "real"),
    "minimum": (ops.minimum, torch.minimum, [(3, 4), (4,)], "real"),
    "arctan2": (ops.arctan2, torch.atan2, [(3, 4), (3, 4)], ("real", "away")),
    **{
        name: (getattr(ops, name), getattr(torch, twin), [(3, 4)], domain)
        for name, twin, domain in [
            ("abs", "abs", "real"),
            ("negative", "neg", "real"),
            ("square", "square", "real"),
            ("sqrt", "sqrt", "positive"),
            ("exp", "exp", "real"),
            ("expm1", "expm1", "real"),
            ("log", "log", "positive"),
            ("log1p", "log1p", "positive"),
            ("log2", "log2", "positive"),
            ("log10", "log10", "positive"),
            ("sin", "sin", "real"),
            ("cos", "cos", "real"),
            ("tan", "tan", "unit"),
            ("tanh", "tanh", "real"),
            ("sinh", "sinh", "real"),
            ("cosh", "cosh", "real"),
            ("arcsin", "asin", "unit"),
            ("arccos", "acos", "unit"),
            ("arctan", "atan", "real"),
        ]
    },
    "reciprocal": (ops.reciprocal, torch.reciprocal, [(3, 4)], "away"),
    "rsqrt": (ops.rsqrt, torch.rsqrt, [(3, 4)], "positive"),
    "erf": (ops.erf, torch.erf, [(3, 4)], "real"),
    "logaddexp": (ops.logaddexp, torch.logaddexp, [(3, 4), (4,)], "real"),
    "clip": (
        lambda x: ops.clip(x, -0.5, 0.5),
        lambda x: torch.clamp(x, -0.5, 0.5),
        [(3, 4)],
        "real",
    ),
    "matmul": (ops.matmul, torch.matmul, [(2, 1, 3, 4), (5, 4, 2)], "real"),
    "matmul_vector": (ops.matmul, torch.matmul, [(4,), (2, 4, 3)], "real"),
    "tensordot": (
        lambda a, b: ops.tensordot(a, b, axes=([0, 2], [2, 0])),
        lambda a, b: torch.tensordot(a, b, dims=([0, 2], [2, 0])),
        [(2, 3, 4), (4, 5, 2)],
        "real",
    ),
    "einsum": (
        lambda a, b: ops.einsum("bij,bkj->bik", a, b),
        lambda a, b: torch.einsum("bij,bkj->bik", a, b),
        [(2, 3, 4), (2, 5, 4)],
        "real",
    ),
    "einsum_diagonal": (
        lambda a: ops.einsum("...ii->...i", a),
        lambda a: torch.einsum("...ii->...i", a),
        [(2, 3, 3)],
        "real",
    ),
    "outer": (ops.outer, torch.outer, [(3,), (4,)], "real"),
    "sum": (lambda x: ops.sum(x, axis=(0, 2)), lambda x: x.sum(dim=(0, 2)), [(2, 3, 4)], "real"),
    "mean": (
        lambda x: ops.mean(x, axis=1, keepdims=True),
        lambda x: x.mean(1, keepdim=True),
        [(2, 3, 4)],
        "real",
    ),
    "max": (lambda x: ops.max(x, axis=-1), lambda x: torch.amax(x, dim=-1), [(2, 3, 4)], "real"),
    "min": (lambda x: ops.min(x, axis=0), lambda x: torch.amin(x, dim=0), [(2, 3, 4)], "real"),
    "prod": (lambda x: ops.prod(x, axis=1), lambda x: torch.prod(x, dim=1), [(3, 4)], "real"),
    "std": (
        lambda x: ops.std(x, axis=1),
        lambda x: torch.std(x, dim=1, correction=0),
        [(3, 4)],
        "real",
    ),
    "var": (lambda x: ops.var(x), lambda x: torch.var(x, correction=0), [(3, 4)], "real"),
    "logsumexp": (
        lambda x: ops.logsumexp(x, axis=-1),
        lambda x: torch.logsumexp(x, dim=-1),
        [(3, 4)],
        "real",
    ),
    "cumsum": (lambda x: ops.cumsum(x, axis=1), lambda x: torch.cumsum(x, dim=1), [(3, 4)], "real"),
    "cumprod": (
        lambda x: ops.cumprod(x, axis=0),
        lambda x: torch.cumprod(x, dim=0),
        [(3, 4)],
        "real",
    ),
    "sort": (
        lambda x: ops.sort(x, axis=0),
        lambda x: torch.sort(x, dim=0).values,
        [(3, 4)],
        "real",
    ),
    "transpose": (
        lambda x: ops.transpose(x, (2, 0, 1)),
        lambda x: x.permute(2, 0, 1),
        [(2, 3, 4)],
        "real",
    ),
    "moveaxis": (
        lambda x: ops.moveaxis(x, 0, -1),
        lambda x: torch.movedim(x, 0, -1),
        [(2, 3, 4)],
        "real",
    ),
    "expand_dims": (lambda x: ops.expand_dims(x, 1), lambda x: x.unsqueeze(1), [(2, 3)], "real"),
    "broadcast_to": (
        lambda x: ops.broadcast_to(x, (2, 3, 4)),
        lambda x: x.expand(2, 3, 4),
        [(3, 1)],
        "real",
    ),
    "concatenate": (
        lambda a, b: ops.concatenate([a, b], axis=1),
        lambda a, b: torch.cat([a, b], dim=1),
        [(2, 3), (2, 2)],
        "real",
    ),
    "stack": (
        lambda a, b: ops.stack([a, b], axis=-1),
        lambda a, b: torch.stack([a, b], -1),
        [(2, 3), (2, 3)],
        "real",
    ),
    "split": (
        lambda x: ops.split(x, [1, 3], axis=1),
        lambda x: torch.split(x, [1, 2, 1], dim=1),
        [(2, 4)],
        "real",
    ),
    "unstack": (lambda x: ops.unstack(x, axis=1), lambda x: torch.unbind(x, 1), [(2, 3)], "real"),
    "diagonal": (
        lambda x: ops.diagonal(x, 1, 1, 2),
        lambda x: torch.diagonal(x, 1, 1, 2),
        [(2, 3, 4)],
        "real",
    ),
    "trace": (ops.trace, torch.trace, [(3, 4)], "real"),
    "top_k": (lambda x: ops.top_k(x, 2)[0], lambda x: torch.topk(x, 2).values, [(3, 5)], "real"),
    "tile": (lambda x: ops.tile(x, (2, 3)), lambda x: x.tile((2, 3)), [(2, 3)], "real"),
    "repeat": (
        lambda x: ops.repeat(x, 3, axis=1),
        lambda x: torch.repeat_interleave(x, 3, dim=1),
        [(2, 3)],
        "real",
    ),
    "pad_reflect": (
        lambda x: ops.pad(x, [[0, 0], [2, 1]], mode="reflect"),
        lambda x: F.pad(x, (2, 1), mode="reflect"),
        [(2, 4)],
        "real",
    ),
    "flip": (lambda x: ops.flip(x, axis=0), lambda x: torch.flip(x, (0,)), [(3, 4)], "real"),
    "roll": (lambda x: ops.roll(x, 1, axis=1), lambda x: torch.roll(x, 1, 1), [(3, 4)], "real"),
    "triu": (lambda x: ops.triu(x, 1), lambda x: torch.triu(x, 1), [(3, 4)], "real"),
    "tril": (ops.tril, torch.tril, [(3, 4)], "real"),
    "diag": (lambda x: ops.diag(x, -1), lambda x: torch.diag(x, -1), [(3, 4)], "real"),
    "take": (
        lambda x: ops.take(x, [2, 0, 2], axis=1),
        lambda x: torch.index_select(x, 1, torch.tensor([2, 0, 2])),
        [(3, 4)],
        "real",
    ),
    "take_along_axis": (
        lambda x: ops.take_along_axis(x, np.array([[1, 1], [0, 3], [2, 2]]), axis=1),
        lambda x: torch.gather(x, 1, torch.tensor([[1, 1], [0, 3], [2, 2]])),
        [(3, 4)],
        "real",
    ),
    "get_item": (lambda x: x[[0, 2, 0], 1:], lambda x: x[[0, 2, 0], 1:], [(3, 4)], "real"),
    "norm_vector": (
        lambda x: ops.norm(x, ord=3, axis=1),
        lambda x: torch.linalg.vector_norm(x, ord=3, dim=1),
        [(3, 4)],
        "real",
    ),
    "norm_nuclear": (
        lambda x: ops.norm(x, ord="nuc"),
        lambda x: torch.linalg.matrix_norm(x, ord="nuc"),
        [(3, 4)],
        "real",
    ),
    "norm_spectral": (
        lambda x: ops.norm(x, ord=2, axis=(0, 1)),
        lambda x: torch.linalg.matrix_norm(x, ord=2),
        [(3, 4)],
        "real",
    ),
    # nn
    "relu": (ops.relu, F.relu, [(3, 4)], "real"),
    "relu6": (lambda x: ops.relu6(4 * x), lambda x: F.relu6(4 * x), [(3, 4)], "real"),
    "leaky_relu": (ops.leaky_relu, lambda x: F.leaky_relu(x, 0.2), [(3, 4)], "real"),
    "elu": (lambda x: ops.elu(x, 0.7), lambda x: F.elu(x, 0.7), [(3, 4)], "real"),
    "selu": (ops.selu, F.selu, [(3, 4)], "real"),
    "gelu": (ops.gelu, lambda x: F.gelu(x, approximate="tanh"), [(3, 4)], "real"),
    "gelu_exact": (lambda x: ops.gelu(x, approximate=False), F.gelu, [(3, 4)], "real"),
    "silu": (ops.silu, F.silu, [(3, 4)], "real"),
    "log_sigmoid": (ops.log_sigmoid, F.logsigmoid, [(3, 4)], "real"),
    "hard_silu": (
        lambda x: ops.hard_silu(4 * x),
        lambda x: 4 * x * F.relu6(4 * x + 3) / 6,
        [(3, 4)],
        "real",
    ),
    "sigmoid": (ops.sigmoid, torch.sigmoid, [(3, 4)], "real"),
    # Keras's definition relu6(x + 3) / 6: F.hardsigmoid's backward uses a float32 1/6
    "hard_sigmoid": (
        lambda x: ops.hard_sigmoid(4 * x),
        lambda x: F.relu6(4 * x + 3) / 6,
        [(3, 4)],
        "real",
    ),
    "softplus": (ops.softplus, F.softplus, [(3, 4)], "real"),
    "softsign": (ops.softsign, F.softsign, [(3, 4)], "real"),
    "softmax": (lambda x: ops.softmax(x, axis=0), lambda x: F.softmax(x, dim=0), [(3, 4)], "real"),
    "log_softmax": (ops.log_softmax, lambda x: F.log_softmax(x, -1), [(3, 4)], "real"),
    "normalize": (ops.normalize, lambda x: F.normalize(x, dim=-1), [(3, 4)], "real"),
    "binary_crossentropy_logits": (
        lambda z: ops.binary_crossentropy(np.eye(3, 4), z, from_logits=True),
        lambda z: F.binary_cross_entropy_with_logits(
            z, torch.eye(3, 4, dtype=z.dtype), reduction="none"
        ),
        [(3, 4)],
        "real",
    ),
    "binary_crossentropy": (
        lambda p: ops.binary_crossentropy(np.eye(3, 4), p),
        lambda p: F.binary_cross_entropy(p, torch.eye(3, 4, dtype=p.dtype), reduction="none"),
        [(3, 4)],
        "probability",
    ),
    "sparse_categorical_crossentropy_logits": (
        lambda z: ops.sparse_categorical_crossentropy(np.array([0, 3, 1]), z, from_logits=True),
        lambda z: F.cross_entropy(z, torch.tensor([0, 3, 1]), reduction="none"),
        [(3, 4)],
        "real",
    ),
}


def _listed(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


@pytest.mark.parametrize("name", sorted(TWINS))
def test_op_matches_torch_forward_and_gradient(name):
    ours, theirs, shapes, domains = TWINS[name]
    domains = (domains,) * len(shapes) if isinstance(domains, str) else domains
    rng = np.random.default_rng(0)
    arrays = [make_input(s, d, rng) for s, d in zip(shapes, domains)]
    weights = [rng.standard_normal(np.shape(y)) for y in _listed(ours(*arrays))]

    with GradientTape() as tape:
        watched = [tape.watch(a) for a in arrays]
        outputs = _listed(ours(*watched))
        loss = ops.sum(ops.stack([ops.sum(y * w) for y, w in zip(outputs, weights)]))
    our_grads = tape.gradient(loss, watched)

    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    twin_outputs = _listed(theirs(*tensors))
    sum(torch.sum(y * torch.tensor(w)) for y, w in zip(twin_outputs, weights)).backward()

    for y, t in zip(outputs, twin_outputs):
        np.testing.assert_allclose(np.asarray(y), t.detach().numpy(), rtol=1e-9, atol=1e-12)
    for g, t in zip(our_grads, tensors):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-8, atol=1e-10)
