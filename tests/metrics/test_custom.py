"""Custom metrics written as in the Keras 3 guides."""

import numpy as np
import pytest

import npkeras as keras
from npkeras import ops
from npkeras.ops.tape import GradientTape


class BinaryTruePositives(keras.metrics.Metric):
    def __init__(self, name="binary_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), initializer="zeros", name="tp")
        self.seen = self.add_weight(name="seen", initializer="ones")  # Keras 2 spelling

    def update_state(self, y_true, y_pred, sample_weight=None):
        assert isinstance(y_pred, np.ndarray)  # tensors and variables arrive unwrapped
        values = ops.logical_and(ops.cast(y_true, "bool"), ops.cast(y_pred > 0.5, "bool"))
        values = ops.cast(values, "float64")
        if sample_weight is not None:
            values = values * sample_weight
        self.true_positives.assign_add(ops.sum(values))
        self.seen.assign_add(len(y_true))

    def result(self):
        return self.true_positives


def test_custom_metric_streams_and_resets_to_initial_values():
    m = BinaryTruePositives()
    m.update_state(np.array([1, 1, 0]), np.array([0.9, 0.2, 0.8]))
    m.update_state(np.array([1, 1]), np.array([0.7, 0.6]), sample_weight=np.array([0.5, 2.0]))
    assert m.result() == 3.5
    assert float(m.seen.value) == 6.0
    m.reset_state()
    assert m.result() == 0.0
    assert float(m.seen.value) == 1.0  # back to its initializer, not to zero
    assert [v.name for v in m.variables] == ["tp", "seen"]


def test_update_state_accepts_tracked_tensors_and_variables():
    m = BinaryTruePositives()
    with GradientTape() as tape:
        y_pred = tape.watch(ops.convert_to_tensor(np.array([0.9, 0.1])))
        m.update_state(keras.Variable(np.array([1.0, 1.0])), y_pred)
    assert m.result() == 1.0
    acc = keras.metrics.BinaryAccuracy()
    acc.update_state(
        keras.Variable(np.array([[1.0], [0.0]])), keras.Variable(np.array([[0.9], [0.2]]))
    )
    assert acc.result() == 1.0


def test_custom_metric_in_fit_is_reset_each_epoch(rng):
    keras.utils.set_random_seed(0)
    x = rng.standard_normal((64, 3))
    y = (x[:, :1] > 0).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=[BinaryTruePositives()])
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    tp = history.history["binary_true_positives"]
    assert len(tp) == 2 and all(0.0 <= v <= y.sum() for v in tp)
    p = model.predict(x, verbose=0)
    assert tp[-1] <= y.sum()
    values = model.evaluate(x, y, verbose=0, return_dict=True)
    assert values["binary_true_positives"] == float(((p > 0.5) & (y > 0.5)).sum())


def test_base_class_errors():
    class NoUpdate(keras.metrics.Metric):
        pass

    with pytest.raises(NotImplementedError, match="NoUpdate does not define update_state"):
        NoUpdate().update_state([1], [1])
    assert NoUpdate().name == "no_update"
