import numpy as np
import pytest

from npkeras import layers
from tests.helpers import check_layer


@pytest.mark.parametrize(
    "make, input_shape, output_shape",
    [
        (lambda: layers.ZeroPadding1D(), (3, 2), (5, 2)),
        (lambda: layers.ZeroPadding1D((0, 2)), (3, 2), (5, 2)),
        (lambda: layers.ZeroPadding2D(), (2, 3, 1), (4, 5, 1)),
        (lambda: layers.ZeroPadding2D((1, 0)), (2, 3, 1), (4, 3, 1)),
        (
            lambda: layers.ZeroPadding2D(((0, 1), (2, 0)), data_format="channels_first"),
            (2, 2, 3),
            (2, 3, 5),
        ),
        (lambda: layers.ZeroPadding3D(((1, 0), (0, 1), (1, 1))), (1, 2, 1, 2), (2, 3, 3, 2)),
        (lambda: layers.ZeroPadding3D(1, data_format="channels_first"), (1, 1, 2, 1), (1, 3, 4, 3)),
        (lambda: layers.Cropping1D(), (4, 2), (2, 2)),
        (lambda: layers.Cropping1D((0, 2)), (4, 2), (2, 2)),
        (lambda: layers.Cropping2D(((1, 0), (0, 2))), (3, 4, 2), (2, 2, 2)),
        (lambda: layers.Cropping2D(1, data_format="channels_first"), (2, 3, 4), (2, 1, 2)),
        (lambda: layers.Cropping3D(), (3, 3, 4, 1), (1, 1, 2, 1)),
        (
            lambda: layers.Cropping3D((0, 1, 0), data_format="channels_first"),
            (1, 2, 3, 2),
            (1, 2, 1, 2),
        ),
        (lambda: layers.UpSampling1D(3), (2, 2), (6, 2)),
        (lambda: layers.UpSampling2D(), (2, 3, 1), (4, 6, 1)),
        (lambda: layers.UpSampling2D((1, 3), data_format="channels_first"), (2, 2, 2), (2, 2, 6)),
        (lambda: layers.UpSampling2D((2, 3), interpolation="bilinear"), (2, 3, 2), (4, 9, 2)),
        (
            lambda: layers.UpSampling2D(2, data_format="channels_first", interpolation="bilinear"),
            (1, 3, 2),
            (1, 6, 4),
        ),
        (lambda: layers.UpSampling3D(), (1, 2, 2, 1), (2, 4, 4, 1)),
        (
            lambda: layers.UpSampling3D((1, 2, 1), data_format="channels_first"),
            (2, 1, 2, 2),
            (2, 1, 4, 2),
        ),
        (lambda: layers.RepeatVector(3), (4,), (3, 4)),
        (lambda: layers.Permute((2, 1)), (2, 3), (3, 2)),
        (lambda: layers.Permute((3, 1, 2)), (2, 3, 4), (4, 2, 3)),
    ],
)
def test_reshaping_check_layer(make, input_shape, output_shape):
    layer = check_layer(make, input_shape, output_shape, expected_params=0)
    assert layer.compute_output_shape((None,) + input_shape) == (None,) + output_shape


def test_padding_and_cropping_numbers():
    x = np.arange(1.0, 7.0).reshape(1, 2, 3, 1)
    padded = layers.ZeroPadding2D(((1, 0), (0, 1)))(x)
    np.testing.assert_array_equal(padded[0, :, :, 0], [[0, 0, 0, 0], [1, 2, 3, 0], [4, 5, 6, 0]])
    cropped = layers.Cropping2D(((1, 1), (0, 1)))(padded)
    np.testing.assert_array_equal(cropped[0, :, :, 0], [[1, 2, 3]])
    channels_first = layers.Cropping1D((1, 0))(np.arange(6.0).reshape(1, 3, 2))
    np.testing.assert_array_equal(channels_first, [[[2, 3], [4, 5]]])


def test_upsampling_numbers():
    x = np.array([[[[1.0], [2.0]], [[3.0], [4.0]]]])  # (1, 2, 2, 1)
    nearest = layers.UpSampling2D((2, 1))(x)[0, :, :, 0]
    np.testing.assert_array_equal(nearest, [[1, 2], [1, 2], [3, 4], [3, 4]])
    bilinear = layers.UpSampling2D(2, interpolation="bilinear")(x)[0, :, :, 0]
    # half-pixel centres: rows sample positions -0.25 (clamped), 0.25, 0.75, 1.25 (clamped)
    row = np.array([1.0, 1.25, 1.75, 2.0])
    np.testing.assert_allclose(bilinear, [row, row + 0.5, row + 1.5, row + 2.0])
    layer = layers.UpSampling1D(2)
    layer(np.ones((1, 2, 1)))
    np.testing.assert_array_equal(layer.backward(np.arange(4.0).reshape(1, 4, 1)), [[[1.0], [5.0]]])


def test_reshaping_configs_round_trip_keras_names():
    config = layers.ZeroPadding2D(1).get_config()
    assert config["padding"] == ((1, 1), (1, 1)) and config["data_format"] == "channels_last"
    assert layers.ZeroPadding1D(2).get_config()["padding"] == (2, 2)
    assert "data_format" not in layers.Cropping1D().get_config()
    assert layers.UpSampling2D().get_config()["interpolation"] == "nearest"
    assert layers.UpSampling1D(3).get_config()["size"] == 3
    assert layers.Permute((2, 1)).get_config()["dims"] == [2, 1]


def test_reshaping_errors():
    with pytest.raises(
        ValueError, match="`padding` must be an int, a tuple of 2 ints.*padding=\\(1, 2, 3\\)"
    ):
        layers.ZeroPadding2D((1, 2, 3))
    with pytest.raises(ValueError, match="`padding` must be an int or a tuple of 2.*padding=-1"):
        layers.ZeroPadding1D(-1)
    with pytest.raises(ValueError, match="`data_format` argument must be one of.*'nhwc'"):
        layers.Cropping2D(data_format="nhwc")
    with pytest.raises(ValueError, match="cropping \\(2, 1\\) leaves nothing of an axis of size 3"):
        layers.Cropping1D((2, 1))(np.zeros((1, 3, 2)))
    with pytest.raises(ValueError, match="expects inputs of rank 4"):
        layers.ZeroPadding2D()(np.zeros((1, 3, 2)))
    with pytest.raises(ValueError, match="`size` must be a positive int or a tuple of 2.*size=0"):
        layers.UpSampling2D(0)
    with pytest.raises(
        ValueError, match="`interpolation` must be one of \\('nearest', 'bilinear'\\)"
    ):
        layers.UpSampling2D(interpolation="bicubic")
    with pytest.raises(TypeError, match="multiple values for argument 'interpolation'"):
        layers.UpSampling3D(interpolation="bilinear")
    with pytest.raises(ValueError, match="invalid value for `n`.*Received: n=0"):
        layers.RepeatVector(0)
    with pytest.raises(ValueError, match="expects inputs of rank 2"):
        layers.RepeatVector(2)(np.zeros((1, 2, 3)))
    with pytest.raises(
        ValueError, match="must be consecutive and start from 1. Received dims=\\(0, 1\\)"
    ):
        layers.Permute((0, 1))
    with pytest.raises(ValueError, match="expects inputs of rank 3"):
        layers.Permute((2, 1))(np.zeros((1, 2)))
