import numpy as np
import pytest

from npkeras import layers
from tests.helpers import check_layer


@pytest.mark.parametrize(
    "cls", [layers.Add, layers.Multiply, layers.Average, layers.Maximum, layers.Minimum]
)
def test_elementwise_merge_gradients(cls):
    check_layer(lambda: cls(), [(4,), (4,), (4,)], (4,))


def test_subtract_gradients_and_values():
    check_layer(lambda: layers.Subtract(), [(3,), (3,)], (3,))
    out = layers.Subtract()([np.array([[3.0]]), np.array([[1.0]])])
    assert out.tolist() == [[2.0]]


def test_concatenate_gradients():
    check_layer(lambda: layers.Concatenate(), [(2,), (3,)], (5,))
    check_layer(lambda: layers.Concatenate(axis=1), [(2, 3), (1, 3)], (3, 3))


def test_merge_needs_same_shapes():
    with pytest.raises(ValueError, match=r"needs inputs of one shape"):
        layers.Add()([np.zeros((1, 2)), np.zeros((1, 3))])


def test_subtract_takes_two_inputs():
    with pytest.raises(ValueError, match="takes exactly 2 inputs"):
        layers.Subtract()([np.zeros((1, 2))] * 3)


def test_maximum_and_minimum_values():
    a, b = np.array([[1.0, 5.0]]), np.array([[3.0, 2.0]])
    assert layers.Maximum()([a, b]).tolist() == [[3.0, 5.0]]
    assert layers.Minimum()([a, b]).tolist() == [[1.0, 2.0]]
