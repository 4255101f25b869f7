"""npkeras on a GPU (CuPy) against PyTorch on the same device: parity, then speed.

Run by ``bench/gpu_check.sh`` with ``NPKERAS_BACKEND=cupy``. Without a GPU it runs the
same code on the CPU (NumPy against PyTorch CPU), which is how it was checked in a task
that had no GPU; ``--quick`` shrinks every size.

1. Parity, float64: a 784-256-128-10 MLP's loss and every weight gradient, then the
   weights after three Adam steps, against ``torch.nn`` with the same weights
   (npkeras kernels are ``(in, out)``, torch's ``Linear.weight`` is ``(out, in)``: transposed).
   The CNN case does the same when npkeras has ``Conv2D`` (kernel ``(kh, kw, in, out)``
   against torch's ``(out, in, kh, kw)``; inputs NHWC against NCHW).
2. Speed, float32: seconds per epoch of the MLP (60,000 rows, Adam, batch 128 and 1024)
   and of the CNN (10,000 28x28x1 images, batch 128), best of three epochs after one
   warm-up epoch, npkeras ``fit`` against a plain PyTorch loop over device tensors.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

import npkeras as keras
from npkeras import backend

DEVICE = "cuda" if backend.backend() == "cupy" else "cpu"
L = keras.layers


def _sync():
    if DEVICE == "cuda":
        torch.cuda.synchronize()
        backend.xp.cuda.Device().synchronize()


def _mlp(sizes=(784, 256, 128, 10)):
    return keras.Sequential(
        [L.Input((sizes[0],))]
        + [L.Dense(n, activation="relu") for n in sizes[1:-1]]
        + [L.Dense(sizes[-1])]
    )


def _cnn():
    return keras.Sequential(
        [
            L.Input((28, 28, 1)),
            L.Conv2D(32, 3, activation="relu"),
            L.MaxPooling2D(2),
            L.Conv2D(64, 3, activation="relu"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(10),
        ]
    )


def _torch_twin(model, dtype):
    """The same network in torch.nn, with npkeras's weights copied in."""
    modules = []
    for layer in model.layers:
        kind = type(layer).__name__
        weights = [torch.tensor(w, dtype=dtype) for w in layer.get_weights()]
        if kind == "Dense":
            linear = torch.nn.Linear(*weights[0].shape)
            linear.weight.data, linear.bias.data = weights[0].T.contiguous(), weights[1]
            modules.append(linear)
        elif kind == "Conv2D":
            kh, kw, cin, cout = weights[0].shape
            conv = torch.nn.Conv2d(cin, cout, (kh, kw))
            conv.weight.data, conv.bias.data = (
                weights[0].permute(3, 2, 0, 1).contiguous(),
                weights[1],
            )
            modules.append(conv)
        elif kind == "MaxPooling2D":
            modules.append(torch.nn.MaxPool2d(2))
        elif kind == "Flatten":  # npkeras flattens NHWC: go back to it before flattening
            modules += [_Permute((0, 2, 3, 1)), torch.nn.Flatten()]
        if getattr(layer, "activation", None) is not None and layer.activation.name == "relu":
            modules.append(torch.nn.ReLU())
    return torch.nn.Sequential(*modules).to(DEVICE, dtype)


class _Permute(torch.nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return x.permute(*self.dims)


def _torch_input(x, conv):
    t = torch.tensor(x, device=DEVICE)
    return t.permute(0, 3, 1, 2).contiguous() if conv else t


def _torch_grads(twin):
    """Gradients in npkeras's layouts and order (kernel then bias per layer)."""
    out = []
    for module in twin:
        if isinstance(module, torch.nn.Linear):
            out += [module.weight.grad.T, module.bias.grad]
        elif isinstance(module, torch.nn.Conv2d):
            out += [module.weight.grad.permute(2, 3, 1, 0), module.bias.grad]
    return [g.detach().cpu().numpy() for g in out]


def parity(make, x, y, conv=False) -> dict:
    backend.set_floatx("float64")
    try:
        keras.utils.set_random_seed(0)
        model = make()
        twin = _torch_twin(model, torch.float64)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        with keras.GradientTape() as tape:
            loss = loss_fn(y, model(x))
        grads = [backend.to_numpy(g) for g in tape.gradient(loss, model.trainable_weights)]
        t_loss = torch.nn.functional.cross_entropy(
            twin(_torch_input(x, conv)), torch.tensor(y, device=DEVICE)
        )
        t_loss.backward()
        result = {
            "loss_abs_diff": abs(backend.to_float(loss) - t_loss.item()),
            "grad_max_rel_diff": max(
                float(np.abs(g - t).max() / max(np.abs(t).max(), 1e-300))
                for g, t in zip(grads, _torch_grads(twin))
            ),
        }
        # Keras adds epsilon to sqrt(v) before bias correction, torch after: a tiny epsilon
        # makes the two formulas agree
        model.compile(optimizer=keras.optimizers.Adam(1e-3, epsilon=1e-30), loss=loss_fn)
        twin = _torch_twin(model, torch.float64)
        opt = torch.optim.Adam(twin.parameters(), lr=1e-3, eps=1e-30)
        for _ in range(3):
            model.train_on_batch(x, y)
            opt.zero_grad()
            torch.nn.functional.cross_entropy(
                twin(_torch_input(x, conv)), torch.tensor(y, device=DEVICE)
            ).backward()
            opt.step()
        after = _torch_twin(model, torch.float64)
        result["weights_after_3_adam_steps_max_abs_diff"] = max(
            float((a - b).detach().abs().max())
            for a, b in zip(after.parameters(), twin.parameters())
        )
        return result
    finally:
        backend.set_floatx("float32")


def _best_epoch(run, repeats=3):
    run()  # warm-up: kernels compiled, memory pools filled
    times = []
    for _ in range(repeats):
        _sync()
        start = time.perf_counter()
        run()
        _sync()
        times.append(time.perf_counter() - start)
    return min(times)


def speed(make, x, y, batch_size, conv=False) -> dict:
    keras.utils.set_random_seed(0)
    model = make()
    model.compile(
        optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    x_device = backend.to_device(x)  # the data fits: moved once, as fit would
    y_device = backend.to_device(y)
    npk = _best_epoch(
        lambda: model.fit(x_device, y_device, batch_size=batch_size, epochs=1, verbose=0)
    )
    twin = _torch_twin(model, torch.float32)
    opt = torch.optim.Adam(twin.parameters(), lr=1e-3, eps=1e-7)
    tx, ty = _torch_input(x, conv), torch.tensor(y, device=DEVICE)

    def torch_epoch():
        order = torch.randperm(len(tx), device=DEVICE)
        for start in range(0, len(tx), batch_size):
            index = order[start : start + batch_size]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(twin(tx[index]), ty[index]).backward()
            opt.step()

    reference = _best_epoch(torch_epoch)
    return {
        "npkeras_s_per_epoch": npk,
        "torch_s_per_epoch": reference,
        "ratio_npkeras_over_torch": npk / reference,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n_mlp, n_cnn = (512, 128) if args.quick else (60_000, 10_000)
    results = {
        "device": DEVICE,
        "backend": backend.backend(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if DEVICE == "cuda":
        results["gpu"] = torch.cuda.get_device_name(0)
        results["cupy"] = backend.xp.__version__
    x, y = rng.standard_normal((64, 784)), rng.integers(0, 10, 64)
    results["mlp_parity_float64"] = parity(_mlp, x, y)
    has_conv = hasattr(L, "Conv2D") and hasattr(L, "MaxPooling2D")
    if has_conv:
        images = rng.standard_normal((16, 28, 28, 1))
        results["cnn_parity_float64"] = parity(_cnn, images, y[:16], conv=True)
    x32 = rng.standard_normal((n_mlp, 784)).astype("float32")
    y32 = rng.integers(0, 10, n_mlp)
    for batch in (128, 1024):
        results[f"mlp_speed_batch_{batch}"] = speed(_mlp, x32, y32, batch)
    if has_conv:
        images = rng.standard_normal((n_cnn, 28, 28, 1)).astype("float32")
        results["cnn_speed_batch_128"] = speed(
            _cnn, images, rng.integers(0, 10, n_cnn), 128, conv=True
        )
    else:
        results["cnn"] = "skipped: this npkeras has no Conv2D/MaxPooling2D"
    text = json.dumps(results, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    parities = [v for k, v in results.items() if k.endswith("parity_float64")]
    worst = max(v["grad_max_rel_diff"] for v in parities)
    drift = max(v["weights_after_3_adam_steps_max_abs_diff"] for v in parities)
    if worst > 1e-8 or drift > 1e-10:
        raise SystemExit(
            f"parity FAILED: gradients differ from PyTorch by {worst:.2e} "
            f"(relative), weights after 3 Adam steps by {drift:.2e}"
        )


if __name__ == "__main__":
    main()
