import numpy as np
import pytest

import npkeras as keras
from npkeras import utils


def test_to_categorical():
    np.testing.assert_array_equal(utils.to_categorical([1, 0, 2]), np.eye(3)[[1, 0, 2]])
    assert utils.to_categorical(np.array([[1], [0]]), 4).shape == (2, 4)
    with pytest.raises(ValueError, match="Label 3 does not fit num_classes=2"):
        utils.to_categorical([3], 2)
    with pytest.raises(ValueError, match="expects labels >= 0"):
        utils.to_categorical([-1])


def test_normalize_and_split():
    out = utils.normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0, 0]], rtol=1e-6)
    x, y = np.arange(20).reshape(10, 2), np.arange(10)
    (xl, yl), (xr, yr) = utils.split_dataset(x, y, left_size=0.6, shuffle=True, seed=1)
    assert len(xl) == 6 and len(xr) == 4
    assert sorted(np.concatenate([yl, yr]).tolist()) == list(range(10))
    np.testing.assert_array_equal(xl[:, 0] // 2, yl)
    with pytest.raises(ValueError, match="same number of rows"):
        utils.split_dataset(x, y[:3])


def test_set_random_seed_validates():
    with pytest.raises(ValueError, match="`seed` must be a non-negative integer"):
        utils.set_random_seed(-1)


def test_plots_return_figures(tmp_path):
    pytest.importorskip("matplotlib")
    a = keras.Input(shape=(3,), name="a")
    b = keras.Input(shape=(2,), name="b")
    h = keras.layers.Concatenate()([keras.layers.Dense(4)(a), b])
    model = keras.Model([a, b], keras.layers.Dense(1)(h))
    fig = utils.plot_model(model, path=tmp_path / "graph.png")
    assert (tmp_path / "graph.png").stat().st_size > 1000 and fig.axes
    seq = keras.Sequential(
        [keras.Input(shape=(3,)), keras.layers.Dense(5, activation="relu"), keras.layers.Dense(2)]
    )
    seq.compile(optimizer="adam", loss="mse")
    history = seq.fit(
        np.random.rand(20, 3), np.random.rand(20, 2), epochs=2, validation_split=0.2, verbose=0
    )
    assert len(utils.plot_history(history).axes) == 1
    assert utils.plot_activations(seq, np.random.rand(10, 3), path=tmp_path / "act.png").axes
    with pytest.raises(ValueError, match="single-input chains"):
        utils.plot_activations(model, [np.zeros((2, 3)), np.zeros((2, 2))])
    import matplotlib.pyplot as plt

    plt.close("all")
