import numpy as np
import pytest

from npkeras import backend
from npkeras.utils import set_random_seed


@pytest.fixture(autouse=True)
def _fresh_state():
    """Every test starts from float32 and seed 0."""
    backend.set_floatx("float32")
    set_random_seed(0)
    yield
    backend.set_floatx("float32")


@pytest.fixture
def float64():
    backend.set_floatx("float64")
    yield
    backend.set_floatx("float32")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
