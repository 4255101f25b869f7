"""Train, evaluate, predict, save and load representative models on the backend chosen
by ``NPKERAS_BACKEND``; run by tests/backend/test_backend_switch.py in a subprocess with
the strict device stand-in, so any implicit host conversion in npkeras raises.

Usage: python -m tests.backend.scenario OUT_DIR [PART ...]; prints "ok PART" per part.
"""

from __future__ import annotations

import os
import sys

import numpy as np

import npkeras as keras
from npkeras import activations, backend, losses, ops
from npkeras.layers import (
    BatchNormalization,
    Concatenate,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Input,
    LayerNormalization,
)

DEVICE = backend.xp
RNG = np.random.default_rng(0)


def _is_device(a):
    return isinstance(a, DEVICE.ndarray)


def _classification(n=64, d=6, k=3):
    x = RNG.standard_normal((n, d)).astype("float32")
    y = (x[:, :k].argmax(axis=1)).astype("int64")
    return x, y


def mlp(out):
    x, y = _classification()
    model = keras.Sequential(
        [
            Input((6,)),
            Dense(16, activation="relu"),
            Dropout(0.1),
            BatchNormalization(),
            Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=3, validation_split=0.25, verbose=0)
    assert all(type(v) is float for values in history.history.values() for v in values), history
    assert history.history["loss"][-1] < history.history["loss"][0], history.history
    model.fit(((x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)), epochs=1, verbose=2)
    result = model.evaluate(x, y, verbose=1, return_dict=True)
    assert set(result) == {"loss", "accuracy"} and type(result["loss"]) is float, result
    pred = model.predict(x, verbose=1)
    assert type(pred) is np.ndarray and pred.shape == (64, 3), type(pred)
    assert _is_device(model.layers[0].params["kernel"]) or DEVICE is np
    np.testing.assert_allclose(pred.sum(axis=1), 1.0, rtol=1e-5)
    model.save(os.path.join(out, "mlp.npkeras"))
    np.save(os.path.join(out, "mlp_pred.npy"), pred)
    np.save(os.path.join(out, "mlp_x.npy"), x)


def every_activation_and_loss(out):
    x = RNG.standard_normal((12, 4)).astype("float32")
    positive = np.abs(RNG.standard_normal((12, 3))).astype("float32") + 0.1
    probabilities = positive / positive.sum(axis=1, keepdims=True)
    labels = RNG.integers(0, 3, 12)
    targets = {
        "sparse_categorical_crossentropy": labels,
        "binary_crossentropy": (positive > 0.6).astype("float32"),
        "categorical_crossentropy": probabilities,
        "kl_divergence": probabilities,
        "hinge": (positive > 0.6).astype("float32"),
        "squared_hinge": (positive > 0.6).astype("float32"),
    }
    names = (
        sorted(activations.ALL_NAMES)
        if hasattr(activations, "ALL_NAMES")
        else [
            "linear",
            "relu",
            "leaky_relu",
            "elu",
            "selu",
            "gelu",
            "sigmoid",
            "tanh",
            "softmax",
            "log_softmax",
            "softplus",
            "softsign",
            "silu",
            "hard_sigmoid",
            "exponential",
        ]
    )
    stack = [Input((4,))] + [Dense(3, activation=name) for name in names]
    for loss in (
        "mean_squared_error",
        "mean_absolute_error",
        "mean_absolute_percentage_error",
        "mean_squared_logarithmic_error",
        "huber",
        "log_cosh",
        "binary_crossentropy",
        "categorical_crossentropy",
        "sparse_categorical_crossentropy",
        "kl_divergence",
        "hinge",
        "squared_hinge",
        "poisson",
        "cosine_similarity",
    ):
        keras.utils.set_random_seed(1)
        head = "sigmoid" if loss in ("binary_crossentropy", "poisson") else "softmax"
        model = keras.Sequential(
            stack[:1] + [Dense(3, activation=name) for name in names] + [Dense(3, activation=head)]
        )
        model.compile(
            optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss=loss, metrics=["mae"]
        )
        history = model.fit(x, targets.get(loss, positive), batch_size=4, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0]), (loss, history.history)
    _ = losses  # every loss above resolves by name through npkeras.losses


def functional(out):
    a_in, b_in = Input((5,), name="a"), Input((3,), name="b")
    merged = Concatenate()([Dense(4, activation="tanh")(a_in), Dense(4)(b_in)])
    norm = LayerNormalization()(merged)
    model = keras.Model(
        [a_in, b_in], [Dense(1, name="reg")(norm), Dense(2, activation="softmax", name="cls")(norm)]
    )
    model.compile(
        optimizer="rmsprop",
        loss=["mse", "sparse_categorical_crossentropy"],
        metrics=[["mae"], ["accuracy"]],
    )
    a, b = RNG.standard_normal((32, 5)), RNG.standard_normal((32, 3))
    ys = [RNG.standard_normal((32, 1)), RNG.integers(0, 2, 32)]
    model.fit({"a": a, "b": b}, ys, batch_size=8, epochs=2, verbose=0, validation_data=([a, b], ys))
    preds = model.predict([a, b], verbose=0)
    assert all(type(p) is np.ndarray for p in preds), [type(p) for p in preds]
    logs = model.evaluate([a, b], ys, verbose=0, return_dict=True)
    assert all(type(v) is float for v in logs.values()), logs


def embedding(out):
    tokens = RNG.integers(0, 20, (16, 7))
    model = keras.Sequential(
        [Input((7,), dtype="int64"), Embedding(20, 4), Flatten(), Dense(1, activation="sigmoid")]
    )
    model.compile(optimizer="adamw", loss="binary_crossentropy", metrics=["accuracy", "auc"])
    model.fit(tokens, (tokens[:, 0] > 9).astype("float32"), batch_size=8, epochs=1, verbose=0)
    assert model.predict(tokens, verbose=0).shape == (16, 1)


class Scale(keras.layers.Layer):
    """A Keras-style layer: ``call`` with keras.ops, backward from the tape."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, inputs):
        return ops.tanh(inputs * self.w) + ops.mean(ops.square(inputs), axis=-1, keepdims=True)


class TrainStepModel(keras.Model):
    """A subclassed model with Keras's custom ``train_step`` (GradientTape, metrics)."""

    def __init__(self):
        super().__init__()
        self.hidden, self.out = Dense(8, activation="relu"), Dense(1)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def call(self, inputs):
        return self.out(self.hidden(inputs))

    def train_step(self, data):
        x, y = data
        with keras.GradientTape() as tape:
            loss = ops.mean(ops.square(self(x, training=True) - y))
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


def custom(out):
    model = TrainStepModel()
    model.compile(optimizer="adam")
    x = RNG.standard_normal((32, 3))
    history = model.fit(x, x.sum(axis=1, keepdims=True), batch_size=8, epochs=2, verbose=0)
    assert all(type(v) is float for v in history.history["loss"]), history.history

    x, y = _classification(32, 4, 2)
    model = keras.Sequential([Input((4,)), Scale(), Dense(2)])
    model.compile(
        optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    with keras.GradientTape() as tape:
        loss = ops.mean(ops.square(model(x[:4])))
    grads = tape.gradient(loss, model.trainable_weights)
    assert all(_is_device(g) or DEVICE is np for g in grads), [type(g) for g in grads]
    values = [float(backend.to_float(ops.sum(g))) for g in grads]
    assert all(np.isfinite(values)), values


def save_load_across_backends(out):
    """A model saved on the device loads on the host (NumPy) and back."""
    path = os.path.join(out, "mlp.npkeras")
    x, expected = (
        np.load(os.path.join(out, "mlp_x.npy")),
        np.load(os.path.join(out, "mlp_pred.npy")),
    )
    device_module = backend.backend()
    on_device = keras.models.load_model(path)
    np.testing.assert_allclose(on_device.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    on_device.fit(x, expected.argmax(axis=1), batch_size=32, epochs=1, verbose=0)
    backend.set_backend("numpy")
    on_host = keras.models.load_model(path)
    assert type(on_host.layers[0].params["kernel"]) is np.ndarray
    np.testing.assert_allclose(on_host.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    on_host.save(os.path.join(out, "host.npkeras"))
    backend.set_backend(device_module)
    back = keras.models.load_model(os.path.join(out, "host.npkeras"))
    assert _is_device(back.layers[0].params["kernel"]) or DEVICE is np
    np.testing.assert_allclose(back.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


def layers_callbacks_metrics(out):
    """The other layer families, every optimizer, callbacks that write files and metrics
    with state, on a sequence model."""
    L = keras.layers
    x = RNG.standard_normal((24, 4, 6)).astype("float32")
    y = RNG.integers(0, 2, 24).astype("float32")
    norm = L.Normalization()
    norm.adapt(x.reshape(-1, 6))
    keras.utils.set_random_seed(3)
    for optimizer in ("sgd", "adam", "adamw", "adamax", "nadam", "rmsprop", "adagrad", "adadelta"):
        model = keras.Sequential(
            [
                Input((4, 6)),
                L.Masking(0.0),
                L.GaussianNoise(0.1),
                L.SpatialDropout1D(0.1),
                L.ZeroPadding1D(1),
                L.Cropping1D((1, 1)),
                L.UpSampling1D(2),
                L.Reshape((8, 6)),
                L.Permute((2, 1)),
                L.Reshape((6, 8)),
                L.GroupNormalization(groups=2),
                L.UnitNormalization(),
                Flatten(),
                L.Dense(6, kernel_regularizer="l2", activity_regularizer="l1"),
                L.GaussianDropout(0.1),
                L.AlphaDropout(0.1),
                L.RepeatVector(2),
                Flatten(),
                L.ActivityRegularization(l2=0.01),
                Dense(1, activation="sigmoid"),
            ]
        )
        model.compile(
            optimizer=keras.optimizers.get(optimizer),
            loss="binary_crossentropy",
            metrics=[
                "accuracy",
                keras.metrics.Precision(),
                keras.metrics.Recall(),
                keras.metrics.AUC(),
            ],
        )
        callbacks = [
            keras.callbacks.CSVLogger(os.path.join(out, "log.csv")),
            keras.callbacks.ModelCheckpoint(os.path.join(out, "best.npkeras"), monitor="val_loss"),
            keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True),
            keras.callbacks.ReduceLROnPlateau(patience=1),
            keras.callbacks.GradientStats(),
            keras.callbacks.TerminateOnNaN(),
            keras.callbacks.TensorBoard(
                os.path.join(out, "tb"), histogram_freq=1, write_images=True
            ),
        ]
        model.fit(
            x,
            y,
            batch_size=8,
            epochs=2,
            validation_data=(x, y),
            verbose=0,
            callbacks=callbacks,
            class_weight={0: 1.0, 1: 2.0},
        )
    with open(os.path.join(out, "log.csv")) as log:
        assert log.read().count("\n") == 3
    branch_in = Input((6,))
    merged = [L.Add(), L.Subtract(), L.Multiply(), L.Average(), L.Maximum(), L.Minimum()]
    heads = [m([Dense(3)(norm(branch_in)), Dense(3)(branch_in)]) for m in merged]
    model = keras.Model(branch_in, L.Concatenate()(heads))
    model.compile(
        optimizer="sgd",
        loss="mse",
        metrics=[keras.metrics.R2Score(), keras.metrics.RootMeanSquaredError()],
    )
    model.fit(
        x[:, 0],
        RNG.standard_normal((24, 18)),
        batch_size=6,
        epochs=1,
        verbose=0,
        sample_weight=np.abs(RNG.standard_normal(24)),
    )
    weights = model.get_weights()
    assert all(type(w) is np.ndarray for w in weights), [type(w) for w in weights]
    model.set_weights(weights)
    assert model.count_params() > 0 and model.summary() is None


def gradients(out):
    """Finite-difference checks of hand-written backward passes, in float64, on the
    backend's arrays (on a GPU: the device's arithmetic)."""
    from npkeras.utils.gradcheck import check_activation_gradient, check_loss_gradient

    L = keras.layers
    backend.set_floatx("float64")
    try:
        x = RNG.standard_normal((3, 4, 6)) + 0.5  # not the projection's draws
        for layer in (
            Dense(3, activation="gelu"),
            L.LayerNormalization(),
            L.GroupNormalization(groups=3),
            L.UnitNormalization(),
            L.Permute((2, 1)),
            L.ZeroPadding1D(1),
            L.UpSampling1D(2),
            Dense(2, activation="softmax"),
        ):
            layer(x)
            check = keras.utils.check_gradients(layer, x, tolerance=1e-5)
            assert check.passed, (layer.name, check.verdict)
        flat = backend.to_device(RNG.standard_normal((4, 5)))
        for name in ("elu", "selu", "gelu", "silu", "softplus", "log_softmax", "tanh"):
            assert check_activation_gradient(activations.get(name), flat) < 1e-6, name
        probabilities = backend.to_device(np.full((4, 5), 0.2))
        for name in ("categorical_crossentropy", "kl_divergence", "huber", "log_cosh"):
            error = check_loss_gradient(losses.get(name), probabilities, flat)
            assert error < 1e-6, (name, error)
        model = keras.Sequential(
            [Input((6,)), Dense(5, activation="relu"), BatchNormalization(), Dense(2)]
        )
        model.compile(optimizer="sgd", loss="mse")
        check = keras.utils.check_gradients(model, x[:, 0], RNG.standard_normal((3, 2)))
        assert check.passed, check.verdict
    finally:
        backend.set_floatx("float32")


PARTS = {
    f.__name__: f
    for f in (
        mlp,
        every_activation_and_loss,
        functional,
        embedding,
        custom,
        save_load_across_backends,
        layers_callbacks_metrics,
        gradients,
    )
}

if __name__ == "__main__":
    out_dir, names = sys.argv[1], sys.argv[2:] or list(PARTS)
    keras.utils.set_random_seed(0)
    for part in names:
        PARTS[part](out_dir)
        print("ok", part, flush=True)
