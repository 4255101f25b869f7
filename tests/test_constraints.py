import numpy as np
import pytest

import npkeras as keras
from npkeras import constraints


def test_max_norm_min_max_norm_unit_norm_by_hand(rng):
    w = rng.standard_normal((5, 4)) * 3
    norms = np.linalg.norm(w, axis=0)
    out = constraints.MaxNorm(max_value=2.0)(w)
    np.testing.assert_allclose(np.linalg.norm(out, axis=0), np.minimum(norms, 2.0), rtol=1e-6)
    np.testing.assert_allclose(out / np.linalg.norm(out, axis=0), w / norms, rtol=1e-6)
    unit = constraints.UnitNorm(axis=1)(w)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, rtol=1e-6)
    half = constraints.MinMaxNorm(min_value=1.0, max_value=2.0, rate=0.5)(w)
    expected = 0.5 * np.clip(norms, 1.0, 2.0) + 0.5 * norms
    np.testing.assert_allclose(np.linalg.norm(half, axis=0), expected, rtol=1e-6)
    assert constraints.NonNeg()(np.array([-2.0, 0.0, 3.0])).tolist() == [0.0, 0.0, 3.0]
    assert constraints.MaxNorm(1.0, axis=[0, 1])(np.full((2, 2), 1.0)).round(6).tolist() == [
        [0.5, 0.5],
        [0.5, 0.5],
    ]


def test_get_serialize_and_errors():
    assert isinstance(constraints.get("max_norm"), constraints.MaxNorm)
    assert constraints.get(None) is None
    config = constraints.serialize(constraints.MinMaxNorm(0.5, 3.0, 0.9, axis=1))
    assert config == {
        "class_name": "MinMaxNorm",
        "config": {"min_value": 0.5, "max_value": 3.0, "rate": 0.9, "axis": 1},
    }
    assert constraints.deserialize(config).get_config() == config["config"]
    assert keras.constraints.max_norm is keras.constraints.MaxNorm
    with pytest.raises(
        ValueError, match=r"Unknown constraint: 'max_nrom'. Did you mean 'max_norm'"
    ):
        constraints.get("max_nrom")
    with pytest.raises(ValueError, match=r"`max_value` of MaxNorm.*max_value=0"):
        constraints.MaxNorm(0)
    with pytest.raises(ValueError, match=r"0 <= min_value <= max_value"):
        constraints.MinMaxNorm(2.0, 1.0)
    with pytest.raises(TypeError, match=r"`axis` of UnitNorm.*axis='x'"):
        constraints.UnitNorm(axis="x")


def test_regularizer_aliases():
    assert keras.regularizers.l2 is keras.regularizers.L2
    assert float(keras.regularizers.l1_l2(l1=0.1, l2=0.2)(np.array([1.0, -2.0]))) == pytest.approx(
        0.1 * 3 + 0.2 * 5
    )
    assert keras.regularizers.l1(0.5).get_config() == {"l1": 0.5}
