import numpy as np
import pytest

from npkeras import backend, layers
from tests.helpers import check_layer


def test_adapt_learns_mean_and_variance(rng):
    data = rng.normal([5.0, -2.0], [3.0, 0.5], size=(5000, 2))
    norm = layers.Normalization()
    norm.adapt(data)
    out = norm(data)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-4)
    assert norm.count_params() == 5 and norm.trainable_weights == []  # with count, as Keras


def test_normalization_gradient_and_invert():
    check_layer(lambda: layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0]), (2,), (2,))
    inv = layers.Normalization(mean=[1.0], variance=[4.0], invert=True)
    assert inv(np.array([[1.0]])).tolist() == [[3.0]]


def test_normalization_needs_both_statistics():
    with pytest.raises(ValueError, match="needs both `mean` and `variance`"):
        layers.Normalization(mean=[0.0])


@pytest.mark.parametrize(
    "kwargs, input_shape, params",
    [
        ({}, (5,), 10),
        ({}, (3, 19), 38),  # rows longer than the kernels' 8 lanes
        ({"axis": [1, 2]}, (2, 3), 12),
        ({"axis": 1}, (3, 2), 6),
        ({"center": False, "epsilon": 0.1}, (4,), 4),
        ({"scale": False}, (2, 4), 4),
        ({"rms_scaling": True}, (2, 4), 4),
        ({"rms_scaling": True, "axis": [-2, -1]}, (2, 3), 6),
    ],
)
def test_layer_normalization_check_layer(kwargs, input_shape, params):
    check_layer(
        lambda: layers.LayerNormalization(
            gamma_initializer="random_normal", beta_initializer="random_normal", **kwargs
        ),
        input_shape,
        input_shape,
        expected_params=params,
    )


def test_layer_normalization_numbers_and_weights(rng):
    x = rng.standard_normal((3, 4, 5)) * 3 + 1
    layer = layers.LayerNormalization(axis=[1, 2])
    y = layer(x)
    assert list(layer.params) == ["gamma", "beta"] and layer.params["gamma"].shape == (4, 5)
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-5, atol=1e-6)
    rms = layers.LayerNormalization(rms_scaling=True)
    y = rms(x)
    assert list(rms.params) == ["gamma"]  # Keras 3: rms_scaling builds gamma only
    var = x.var(axis=-1, keepdims=True)
    np.testing.assert_allclose(y, x / np.sqrt(var + 1e-3), rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(backend.kernels is None, reason="the C kernels are not built")
@pytest.mark.parametrize("dtype, tolerance", [("float32", 2e-6), ("float64", 1e-13)])
@pytest.mark.parametrize("shape", [(2, 5, 64), (7, 13), (3, 1), (4,)])
def test_layer_normalization_kernels_equal_numpy(monkeypatch, rng, shape, dtype, tolerance):
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    weights = [rng.standard_normal(shape[-1]) + 1.0, rng.standard_normal(shape[-1])]
    results = []
    for compiled in (backend.kernels, None):
        monkeypatch.setattr(backend, "kernels", compiled)
        layer = layers.LayerNormalization(dtype=dtype)
        layer.build(shape)
        layer.set_weights(weights)
        y = layer.forward(x, training=True)
        layer.zero_grads()
        dx = layer.backward(dy)
        results.append((y, dx, layer.grads["gamma"].copy(), layer.grads["beta"].copy()))
    for ours, reference in zip(*results):
        assert ours.dtype == reference.dtype == dtype
        np.testing.assert_allclose(ours, reference, rtol=tolerance, atol=tolerance * 10)


@pytest.mark.parametrize(
    "kwargs, input_shape",
    [
        ({"groups": 2}, (4,)),
        ({"groups": 3}, (2, 6)),
        ({"groups": -1}, (3, 2)),  # instance normalization
        ({"groups": 1, "center": False}, (2, 3)),
        ({"groups": 2, "axis": 1}, (4, 3)),  # channels_first
        ({"groups": 2, "axis": 1, "scale": False}, (2, 2, 2)),
    ],
)
def test_group_normalization_check_layer(kwargs, input_shape):
    channels = input_shape[kwargs.get("axis", 0) - 1]
    params = channels * (kwargs.get("center", True) + kwargs.get("scale", True))
    check_layer(
        lambda: layers.GroupNormalization(
            gamma_initializer="random_normal", beta_initializer="random_normal", **kwargs
        ),
        input_shape,
        input_shape,
        expected_params=params,
    )


def test_group_normalization_numbers(rng):
    x = rng.standard_normal((2, 3, 3, 6))
    y = layers.GroupNormalization(groups=3)(x)
    groups = x.reshape(2, 3, 3, 3, 2)  # channels split contiguously: (group, channel in group)
    mean = groups.mean(axis=(1, 2, 4), keepdims=True)
    var = groups.var(axis=(1, 2, 4), keepdims=True)
    expected = ((groups - mean) / np.sqrt(var + 1e-3)).reshape(x.shape)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    instance = layers.GroupNormalization(groups=-1)
    instance(x)
    assert instance.groups == 6 and instance.get_config()["groups"] == 6


def test_group_normalization_errors():
    with pytest.raises(
        ValueError,
        match="number of groups \\(4\\) cannot be more than the number of channels \\(3\\)",
    ):
        layers.GroupNormalization(groups=4)(np.zeros((1, 3)))
    with pytest.raises(
        ValueError, match="number of groups \\(2\\) must divide the number of channels \\(3\\)"
    ):
        layers.GroupNormalization(groups=2)(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="invalid value for `groups`.*Received: groups=0"):
        layers.GroupNormalization(groups=0)
    with pytest.raises(TypeError, match="expects an int `axis`; received axis=\\[1, 2\\]"):
        layers.GroupNormalization(axis=[1, 2])


@pytest.mark.parametrize(
    "kwargs, input_shape", [({}, (4,)), ({"axis": 1}, (3, 2)), ({"axis": [1, 2]}, (2, 3))]
)
def test_unit_normalization_check_layer(kwargs, input_shape):
    # inputs shifted off the seed's draws: check_layer's loss weights r equal x for batch 1,
    # and L = sum(x / |x| * x) is flat there (a zero gradient, relative error meaningless)
    check_layer(
        lambda: layers.UnitNormalization(**kwargs),
        input_shape,
        input_shape,
        expected_params=0,
        inputs=lambda batch, rng: rng.standard_normal((batch,) + input_shape) + 0.5,
    )


def test_unit_normalization_numbers_and_zero_vectors(float64):
    layer = layers.UnitNormalization()
    y = layer(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(y, [[0.6, 0.8], [0.0, 0.0]])
    dx = layer.backward(np.ones((2, 2)))
    # a zero vector sits below the 1e-12 clamp: the norm is a constant 1e-6 there
    np.testing.assert_allclose(dx[1], [1e6, 1e6])
    np.testing.assert_allclose(dx[0], np.array([1.0 - 0.6 * 1.4, 1.0 - 0.8 * 1.4]) / 5.0)


def test_normalization_axis_errors():
    with pytest.raises(TypeError, match="an int or a list/tuple of ints.*axis=1.5"):
        layers.LayerNormalization(axis=1.5)
    with pytest.raises(TypeError, match="an int or a list/tuple of ints.*axis=None"):
        layers.UnitNormalization(axis=None)
    with pytest.raises(ValueError, match="axis 2 is out of bounds for input shape \\(None, 3\\)"):
        layers.LayerNormalization(axis=2)(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="names the same dimension twice"):
        layers.LayerNormalization(axis=[1, -1])(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="invalid value for `epsilon`.*Received: epsilon=-1.0"):
        layers.LayerNormalization(epsilon=-1)


def test_fixed_statistics_are_config_constants_and_adapt_is_refused():
    # as Keras 3: given mean/variance make no weights and travel in the config
    norm = layers.Normalization(mean=[1.0, 2.0], variance=4.0)
    x = np.array([[3.0, 4.0]])
    assert norm(x).tolist() == [[1.0, 1.0]] and norm.weights == []
    config = norm.get_config()
    assert config["mean"] == [1.0, 2.0] and config["variance"] == [4.0]
    assert layers.Normalization.from_config(config)(x).tolist() == [[1.0, 1.0]]
    with pytest.raises(ValueError, match="was given `mean` and `variance`; `adapt` works only"):
        norm.adapt(x)
    adapted = layers.Normalization()
    adapted.adapt(x)
    assert adapted.get_config()["mean"] is None
    assert [(w.name, w.value.dtype.name) for w in adapted.weights] == [
        ("mean", "float32"),
        ("variance", "float32"),
        ("count", "int32"),
    ]
