"""20 steps of each optimizer on the same model and data as torch.optim: same weights.

Keras and PyTorch place epsilon differently (Adam: Keras adds it to sqrt(v) before the
bias correction of the step; RMSprop and Adagrad: Keras adds it inside the square root).
npkeras follows Keras; these tests use a tiny epsilon on both sides so the placement is
below the tolerance, and give torch Keras's Adagrad start (accumulator 0.1).
"""

import numpy as np
import pytest

import npkeras as keras

torch = pytest.importorskip("torch")

TINY = 1e-12
TINIER = 1e-20  # RMSprop: clipped gradients make some v ~ 1e-14, where 1e-12 inside sqrt would show

CASES = {
    "sgd_momentum": (
        lambda: keras.optimizers.SGD(0.05, momentum=0.9),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
    ),
    "sgd_nesterov": (
        lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    ),
    "adam": (
        lambda: keras.optimizers.Adam(0.01, epsilon=TINY),
        lambda p: torch.optim.Adam(p, lr=0.01, eps=TINY),
    ),
    "adam_amsgrad": (
        lambda: keras.optimizers.Adam(0.01, epsilon=TINY, amsgrad=True),
        lambda p: torch.optim.Adam(p, lr=0.01, eps=TINY, amsgrad=True),
    ),
    "adamw": (
        lambda: keras.optimizers.AdamW(0.01, weight_decay=0.1, epsilon=TINY),
        lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1, eps=TINY),
    ),
    "rmsprop": (
        lambda: keras.optimizers.RMSprop(0.01, epsilon=TINIER),
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=TINIER),
    ),
    "rmsprop_momentum_centered": (
        lambda: keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True, epsilon=TINIER),
        lambda p: torch.optim.RMSprop(
            p, lr=0.01, alpha=0.9, momentum=0.5, centered=True, eps=TINIER
        ),
    ),
    "adagrad": (
        lambda: keras.optimizers.Adagrad(0.1, epsilon=TINY),
        lambda p: torch.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.1, eps=TINY),
    ),
}


def _run_both(make_ours, make_theirs, clipnorm):
    keras.backend.set_floatx("float64")
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    model = keras.Sequential(
        [keras.Input(shape=(4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(3)]
    )
    opt = make_ours()
    if clipnorm:
        opt.clipnorm = clipnorm
    model.compile(optimizer=opt, loss="mse")
    linears = [torch.nn.Linear(4, 8).double(), torch.nn.Linear(8, 3).double()]
    with torch.no_grad():
        for lin, layer in zip(linears, model.layers):
            kernel, bias = layer.get_weights()
            lin.weight.copy_(torch.tensor(kernel.T))
            lin.bias.copy_(torch.tensor(bias))
    params = [p for lin in linears for p in lin.parameters()]
    topt = make_theirs(params)
    for _ in range(20):
        x, y = rng.standard_normal((16, 4)), rng.standard_normal((16, 3))
        model.train_on_batch(x, y)
        topt.zero_grad()
        out = linears[1](torch.tanh(linears[0](torch.tensor(x))))
        torch.nn.functional.mse_loss(out, torch.tensor(y)).backward()
        if clipnorm:
            # Keras's clipnorm clips each variable on its own, scaling by clipnorm / norm;
            # torch's clip_grad_norm_ adds 1e-6 to the norm, so the scaling is written out
            for p in params:
                norm = p.grad.norm().item()
                if norm > clipnorm:
                    p.grad.mul_(clipnorm / norm)
        topt.step()
    ours = model.get_weights()
    theirs = []
    for lin in linears:
        theirs += [lin.weight.detach().numpy().T, lin.bias.detach().numpy()]
    return ours, theirs


COMPILED = [c for c in sorted(CASES) if c.startswith(("sgd", "adam"))]  # with a C kernel


@pytest.mark.parametrize("clipnorm", [None, 0.05])
@pytest.mark.parametrize(
    "case,compiled", [(c, False) for c in sorted(CASES)] + [(c, True) for c in COMPILED]
)
def test_twenty_steps_match_torch(case, compiled, clipnorm, monkeypatch):
    from npkeras import backend

    if compiled and backend.kernels is None:
        pytest.skip("the C kernels are not built")
    if not compiled:
        monkeypatch.setattr(backend, "kernels", None)
    ours, theirs = _run_both(*CASES[case], clipnorm)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-9)
