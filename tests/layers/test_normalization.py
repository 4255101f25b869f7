import numpy as np
import pytest

from npkeras import layers
from tests.helpers import check_layer


def test_adapt_learns_mean_and_variance(rng):
    data = rng.normal([5.0, -2.0], [3.0, 0.5], size=(5000, 2))
    norm = layers.Normalization()
    norm.adapt(data)
    out = norm(data)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-4)
    assert norm.count_params() == 4 and norm.trainable_weights == []


def test_normalization_gradient_and_invert():
    check_layer(lambda: layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0]), (2,), (2,))
    inv = layers.Normalization(mean=[1.0], variance=[4.0], invert=True)
    assert inv(np.array([[1.0]])).tolist() == [[3.0]]


def test_normalization_needs_both_statistics():
    with pytest.raises(ValueError, match="needs both `mean` and `variance`"):
        layers.Normalization(mean=[0.0])
