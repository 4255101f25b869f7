import numpy as np
import pytest

import npkeras as keras
from npkeras import layers
from tests.helpers import check_layer


def test_rescaling_gradients_values_and_per_channel_scale():
    check_layer(lambda: layers.Rescaling(scale=0.5, offset=-1.0), (3,), (3,), 0)
    check_layer(lambda: layers.Rescaling(scale=[1.0, 2.0, 3.0]), (2, 3), (2, 3), 0)
    x = np.array([[0.0, 127.5, 255.0]])
    np.testing.assert_allclose(layers.Rescaling(1 / 127.5, offset=-1)(x), [[-1.0, 0.0, 1.0]])
    assert layers.Rescaling(scale=np.array([1.0, 2.0])).get_config()["scale"] == [1.0, 2.0]


def test_category_encoding_modes():
    one_hot = layers.CategoryEncoding(num_tokens=4, output_mode="one_hot")
    assert one_hot(np.array([3, 2, 0, 1])).tolist() == np.eye(4)[[3, 2, 0, 1]].tolist()
    assert one_hot(np.array([[1], [2]])).shape == (2, 4)
    assert one_hot(np.array([[1, 2]])).shape == (1, 2, 4)
    multi = layers.CategoryEncoding(num_tokens=4, output_mode="multi_hot")
    assert multi(np.array([[0, 1], [0, 0], [1, 2], [3, 1]])).tolist() == [
        [1, 1, 0, 0],
        [1, 0, 0, 0],
        [0, 1, 1, 0],
        [0, 1, 0, 1],
    ]
    assert multi(np.array([0, 1])).tolist() == [1, 1, 0, 0]  # rank 1: one sample, as Keras
    count = layers.CategoryEncoding(num_tokens=4, output_mode="count")
    weights = np.array([[0.1, 0.2], [0.1, 0.1], [0.2, 0.3], [0.4, 0.2]])
    out = count(np.array([[0, 1], [0, 0], [1, 2], [3, 1]]), count_weights=weights)
    np.testing.assert_allclose(
        out, [[0.1, 0.2, 0, 0], [0.2, 0, 0, 0], [0, 0.2, 0.3, 0], [0, 0.2, 0, 0.4]], rtol=1e-6
    )
    assert count(np.array([[1.0, 1.0]])).tolist() == [[0, 2, 0, 0]]  # integral floats accepted
    assert count.compute_output_shape((None, 3)) == (None, 4)


def test_category_encoding_errors():
    with pytest.raises(
        ValueError,
        match=r"Input values must be in the range 0 <= values < "
        r"num_tokens with num_tokens=3",
    ):
        layers.CategoryEncoding(3)(np.array([[0, 3]]))
    with pytest.raises(ValueError, match="`num_tokens` of CategoryEncoding layer"):
        layers.CategoryEncoding(0)
    with pytest.raises(ValueError, match=r"Unknown `output_mode` .*Received: output_mode='binary'"):
        layers.CategoryEncoding(3, output_mode="binary")
    with pytest.raises(ValueError, match="expects integer inputs; received fractional values"):
        layers.CategoryEncoding(3)(np.array([[0.5]]))


def test_discretization_boundaries_adapt_and_encodings():
    layer = layers.Discretization(bin_boundaries=[0.0, 1.0, 2.0])
    x = np.array([[-1.5, 1.0, 3.4, 0.5], [0.0, 3.0, 1.3, 0.0]])
    assert layer(x).tolist() == [[0, 2, 3, 1], [1, 3, 2, 1]]
    assert layer(x).dtype == np.int64
    one_hot = layers.Discretization(bin_boundaries=[0.0], output_mode="one_hot")
    assert one_hot(np.array([-1.0, 1.0])).tolist() == [[1, 0], [0, 1]]
    learned = layers.Discretization(num_bins=4)
    data = np.random.default_rng(0).random(1000)
    learned.adapt(data)
    np.testing.assert_allclose(learned.bin_boundaries, np.quantile(data, [0.25, 0.5, 0.75]))
    assert np.bincount(learned(data)).tolist() == [250, 250, 250, 250]
    twin = layers.Discretization.from_config(learned.get_config())
    assert twin.bin_boundaries == learned.bin_boundaries
    with pytest.raises(ValueError, match="Both `num_bins` and `bin_boundaries` should not be set"):
        layers.Discretization(bin_boundaries=[0.0], num_bins=5)
    with pytest.raises(ValueError, match="has no bin boundaries: pass `bin_boundaries`"):
        layers.Discretization(num_bins=3)(np.zeros((1, 1)))
    with pytest.raises(ValueError, match="must be sorted"):
        layers.Discretization(bin_boundaries=[1.0, 0.0])


def test_discretization_and_encoding_in_a_model(rng):
    keras.utils.set_random_seed(0)
    x = rng.random((64, 1)).astype("float32") * 4
    y = (x > 2).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((1,)),
            layers.Discretization([1.0, 2.0, 3.0]),
            layers.CategoryEncoding(4, output_mode="one_hot"),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(keras.optimizers.Adam(0.1), "binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=20, verbose=0)
    assert history.history["accuracy"][-1] == 1.0
