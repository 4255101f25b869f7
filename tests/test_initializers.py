import numpy as np
import pytest

from npkeras import initializers, regularizers


@pytest.mark.parametrize(
    "name,expected_var",
    [
        ("glorot_uniform", 2 / (200 + 300)),
        ("glorot_normal", 2 / (200 + 300)),
        ("he_uniform", 2 / 200),
        ("he_normal", 2 / 200),
        ("lecun_uniform", 1 / 200),
        ("lecun_normal", 1 / 200),
    ],
)
def test_variance_scaling_presets_have_keras_variance(name, expected_var):
    w = initializers.get(name)((200, 300))
    assert w.dtype == np.float32 and w.shape == (200, 300)
    assert w.var() == pytest.approx(expected_var, rel=0.05)
    assert abs(w.mean()) < 0.01


def test_truncated_normal_stays_within_two_stddev():
    w = initializers.TruncatedNormal(stddev=1.0, seed=1)((10000,))
    assert np.abs(w).max() <= 2.0
    assert w.std() == pytest.approx(0.88, abs=0.02)


def test_simple_initializers():
    assert initializers.get("zeros")((2,)).tolist() == [0, 0]
    assert initializers.get("ones")((2,)).tolist() == [1, 1]
    assert initializers.Constant(3)((2,)).tolist() == [3, 3]
    u = initializers.RandomUniform(-1, 1, seed=0)((1000,))
    assert u.min() >= -1 and u.max() <= 1
    n = initializers.RandomNormal(2.0, 0.5, seed=0)((10000,))
    assert n.mean() == pytest.approx(2.0, abs=0.02) and n.std() == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3)])
def test_orthogonal(shape):
    w = initializers.Orthogonal(gain=2.0, seed=0)(shape).astype(np.float64)
    gram = w @ w.T if shape[0] <= shape[1] else w.T @ w
    np.testing.assert_allclose(gram, 4 * np.eye(min(shape)), atol=1e-5)


def test_seeded_initializers_repeat():
    a = initializers.GlorotUniform(seed=5)((3, 3))
    b = initializers.GlorotUniform(seed=5)((3, 3))
    np.testing.assert_array_equal(a, b)


def test_unknown_initializer():
    with pytest.raises(
        ValueError, match=r"Unknown initializer: 'glorot'. Did you mean 'glorot_normal'\?"
    ):
        initializers.get("glorot")


def test_config_round_trip():
    init = initializers.VarianceScaling(scale=2.0, mode="fan_out", distribution="uniform", seed=3)
    twin = initializers.get({"class_name": "VarianceScaling", "config": init.get_config()})
    np.testing.assert_array_equal(
        init((3, 4)), initializers.VarianceScaling(2.0, "fan_out", "uniform", 3)((3, 4))
    )
    assert twin.get_config() == init.get_config()


def test_regularizer_values_and_gradients():
    w = np.array([1.0, -2.0])
    reg = regularizers.L1L2(l1=0.1, l2=0.01)
    assert reg(w) == pytest.approx(0.1 * 3 + 0.01 * 5)
    np.testing.assert_allclose(reg.grad(w), [0.1 + 0.02, -0.1 - 0.04])
    assert regularizers.get("l2").l2 == 0.01
    with pytest.raises(ValueError, match="`l2` must be a non-negative float"):
        regularizers.L2(-1)
