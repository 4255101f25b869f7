"""The backend helpers that layers use for array work."""

import numpy as np
import pytest

from npkeras import backend


@pytest.mark.parametrize("shape", [(1, 3), (5, 1), (1024, 7)])
def test_column_sum_equals_the_sum_over_rows(shape):
    a = np.random.default_rng(0).standard_normal(shape)
    np.testing.assert_allclose(backend.column_sum(a), a.sum(axis=0), rtol=1e-12, atol=1e-12)
    out = np.empty(shape[1], np.float32)  # another type: converted on the way out
    assert backend.column_sum(a, out=out) is out
    np.testing.assert_allclose(out, a.sum(axis=0), rtol=1e-5, atol=1e-5)
