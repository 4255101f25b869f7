"""A 3-layer MLP trained 3 epochs with Adam in npkeras and in PyTorch, same initial
weights and batch order: same weights to 1e-4 relative (float64)."""

import numpy as np
import pytest

import npkeras as keras

torch = pytest.importorskip("torch")


def test_mlp_training_matches_torch(float64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 6))
    y = rng.integers(0, 4, 200)
    model = keras.Sequential(
        [
            keras.Input(shape=(6,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(4, activation="softmax"),
        ]
    )
    # Keras's Adam adds epsilon before the step's bias correction, torch after: tiny epsilon
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2, epsilon=1e-12), loss="sparse_categorical_crossentropy"
    )
    linears = [torch.nn.Linear(6, 16), torch.nn.Linear(16, 8), torch.nn.Linear(8, 4)]
    with torch.no_grad():
        for lin, layer in zip(linears, model.layers):
            lin.double()
            kernel, bias = layer.get_weights()
            lin.weight.copy_(torch.tensor(kernel.T))
            lin.bias.copy_(torch.tensor(bias))
    params = [p for lin in linears for p in lin.parameters()]
    opt = torch.optim.Adam(params, lr=1e-2, eps=1e-12)
    model.fit(x, y, epochs=3, batch_size=32, shuffle=False, verbose=0)
    for _ in range(3):
        for start in range(0, 200, 32):
            xb, yb = torch.tensor(x[start : start + 32]), torch.tensor(y[start : start + 32])
            opt.zero_grad()
            h = torch.tanh(linears[1](torch.relu(linears[0](xb))))
            torch.nn.functional.cross_entropy(linears[2](h), yb).backward()
            opt.step()
    for layer, lin in zip(model.layers, linears):
        kernel, bias = layer.get_weights()
        np.testing.assert_allclose(kernel, lin.weight.detach().numpy().T, rtol=1e-4, atol=1e-8)
        np.testing.assert_allclose(bias, lin.bias.detach().numpy(), rtol=1e-4, atol=1e-8)
