"""The Keras guide "Training & evaluation with the built-in methods" (keras-io guides/
training_with_built_in_methods.py), condensed. MNIST becomes digits (64 pixels, 1,500 train
images, last 300 held out for validation like the guide's last 10,000); the guide reports
about 0.95 test accuracy after 2 epochs on MNIST, digits must reach 0.92.
"""

import numpy as np

import npkeras as keras
from npkeras import layers, ops
from tests.guides.data import digits


def get_uncompiled_model():
    inputs = keras.Input(shape=(64,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def get_compiled_model():
    model = get_uncompiled_model()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    return model


def _split():
    (x_train, y_train), (x_test, y_test) = digits()
    return (x_train[:-300], y_train[:-300]), (x_train[-300:], y_train[-300:]), (x_test, y_test)


def test_end_to_end_fit_evaluate_predict():
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = _split()
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.RMSprop(),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[keras.metrics.SparseCategoricalAccuracy()])
    history = model.fit(x_train, y_train, batch_size=64, epochs=20,
                        validation_data=(x_val, y_val), verbose=0)
    assert len(history.history["val_sparse_categorical_accuracy"]) == 20
    results = model.evaluate(x_test, y_test, batch_size=128, verbose=0)
    assert results[1] >= 0.92, results
    predictions = model.predict(x_test[:3], verbose=0)
    assert predictions.shape == (3, 10)
    np.testing.assert_allclose(predictions.sum(axis=1), 1.0, rtol=1e-5)


def test_custom_loss_function_and_loss_class():
    (x_train, y_train), _, _ = _split()
    y_train_one_hot = ops.one_hot(y_train, num_classes=10)

    def custom_mean_squared_error(y_true, y_pred):
        return ops.mean(ops.square(y_true - y_pred), axis=-1)

    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.Adam(), loss=custom_mean_squared_error)
    history = model.fit(x_train, y_train_one_hot, batch_size=64, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]

    class CustomMSE(keras.losses.Loss):
        def __init__(self, regularization_factor=0.1, name="custom_mse"):
            super().__init__(name=name)
            self.regularization_factor = regularization_factor

        def call(self, y_true, y_pred):
            mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
            reg = ops.mean(ops.square(0.5 - y_pred), axis=-1)
            return mse + reg * self.regularization_factor

    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.Adam(), loss=CustomMSE())
    history = model.fit(x_train, y_train_one_hot, batch_size=64, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_custom_metric_class():
    class CategoricalTruePositives(keras.metrics.Metric):
        def __init__(self, name="categorical_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
            values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
            values = ops.cast(values, "float32")
            self.true_positives.assign_add(ops.sum(values))

        def result(self):
            return self.true_positives.value

        def reset_state(self):
            self.true_positives.assign(0.0)

    (x_train, y_train), _, _ = _split()
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[CategoricalTruePositives()])
    history = model.fit(x_train, y_train.reshape(-1, 1), batch_size=64, epochs=3, verbose=0)
    true_positives = history.history["categorical_true_positives"]
    # Counted over the whole epoch: rises with training, never above the sample count.
    assert true_positives[-1] > true_positives[0]
    assert true_positives[-1] <= len(x_train)


def test_add_loss_in_a_layer():
    class ActivityRegularizationLayer(layers.Layer):
        def call(self, inputs):
            self.add_loss(ops.sum(inputs) * 0.1)
            return inputs

    inputs = keras.Input(shape=(64,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = ActivityRegularizationLayer()(x)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, name="predictions")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    (x_train, y_train), _, _ = _split()
    reg_loss = model.fit(x_train, y_train, batch_size=64, epochs=1, verbose=0)
    # The activity penalty is added to the reported loss: far larger than cross-entropy.
    assert reg_loss.history["loss"][0] > 5.0


def test_validation_split_sample_weight_and_class_weight():
    (x_train, y_train), _, _ = _split()
    model = get_compiled_model()
    history = model.fit(x_train, y_train, batch_size=64, validation_split=0.2, epochs=1,
                        verbose=0)
    assert "val_loss" in history.history

    class_weight = {i: 1.0 for i in range(10)}
    class_weight[5] = 2.0
    model = get_compiled_model()
    model.fit(x_train, y_train, class_weight=class_weight, batch_size=64, epochs=1, verbose=0)

    sample_weight = np.ones(shape=(len(y_train),))
    sample_weight[y_train == 5] = 2.0
    model = get_compiled_model()
    history = model.fit(x_train, y_train, sample_weight=sample_weight, batch_size=64,
                        epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_multi_input_multi_output_with_dict_losses():
    image_input = keras.Input(shape=(8, 8, 3), name="img_input")
    timeseries_input = keras.Input(shape=(None, 10), name="ts_input")
    x1 = layers.Conv2D(3, 3)(image_input)
    x1 = layers.GlobalMaxPooling2D()(x1)
    x2 = layers.Conv1D(3, 3)(timeseries_input)
    x2 = layers.GlobalMaxPooling1D()(x2)
    x = layers.concatenate([x1, x2])
    score_output = layers.Dense(1, name="score_output")(x)
    class_output = layers.Dense(5, name="class_output")(x)
    model = keras.Model(inputs=[image_input, timeseries_input],
                        outputs=[score_output, class_output])
    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-3),
        loss={"score_output": keras.losses.MeanSquaredError(),
              "class_output": keras.losses.CategoricalCrossentropy(from_logits=True)},
        metrics={"score_output": [keras.metrics.MeanAbsolutePercentageError(),
                                  keras.metrics.MeanAbsoluteError()],
                 "class_output": [keras.metrics.CategoricalAccuracy()]},
        loss_weights={"score_output": 2.0, "class_output": 1.0},
    )
    rng = np.random.default_rng(0)
    img_data = rng.random((40, 8, 8, 3)).astype("float32")
    ts_data = rng.random((40, 12, 10)).astype("float32")
    score_targets = rng.random((40, 1)).astype("float32")
    class_targets = rng.random((40, 5)).astype("float32")
    history = model.fit({"img_input": img_data, "ts_input": ts_data},
                        {"score_output": score_targets, "class_output": class_targets},
                        batch_size=20, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    scores, classes = model.predict([img_data, ts_data], verbose=0)
    assert scores.shape == (40, 1) and classes.shape == (40, 5)


def test_callbacks_early_stopping_checkpoint_and_schedule(tmp_path):
    (x_train, y_train), _, _ = _split()
    model = get_compiled_model()
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=1e-2, patience=2,
                                               verbose=0)]
    history = model.fit(x_train, y_train, epochs=30, batch_size=64, callbacks=callbacks,
                        validation_split=0.2, verbose=0)
    assert len(history.history["loss"]) < 30

    model = get_compiled_model()
    callbacks = [keras.callbacks.ModelCheckpoint(
        filepath=str(tmp_path / "mymodel_{epoch}.keras"), save_best_only=True,
        monitor="val_loss", verbose=0)]
    model.fit(x_train, y_train, epochs=2, batch_size=64, callbacks=callbacks,
              validation_split=0.2, verbose=0)
    assert (tmp_path / "mymodel_1.keras").exists()

    lr_schedule = keras.optimizers.schedules.ExponentialDecay(
        0.1, decay_steps=100000, decay_rate=0.96, staircase=True)
    optimizer = keras.optimizers.RMSprop(learning_rate=lr_schedule)
    model = get_uncompiled_model()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    model.fit(x_train[:128], y_train[:128], epochs=1, verbose=0)
