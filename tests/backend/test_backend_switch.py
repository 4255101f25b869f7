"""The backend switch: ``NPKERAS_BACKEND`` / ``backend.set_backend`` select the array
module, and nothing in npkeras converts device arrays to host arrays implicitly.

The proof runs on a CPU with ``tests.backend.strict_numpy``, a stand-in for CuPy whose
arrays refuse every implicit trip to the host; ``scenario.py`` trains, evaluates,
predicts, saves and loads representative models under it in a subprocess.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import npkeras as keras
from npkeras import backend
from npkeras.layers import core
from npkeras.ops import math as ops_numpy
from tests.backend import strict_numpy

STRICT = "tests.backend.strict_numpy"
ROOT = Path(__file__).resolve().parents[2]


def _run(args, env_backend, timeout):
    env = dict(
        os.environ,
        NPKERAS_BACKEND=env_backend,
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    )
    return subprocess.run(
        [sys.executable, *args],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def strict():
    backend.set_backend(STRICT)
    try:
        yield strict_numpy
    finally:
        backend.set_backend("numpy")


def test_the_stand_in_refuses_every_implicit_host_conversion():
    a = strict_numpy.asarray([[1.0, 2.0], [3.0, 4.0]])
    total = a.sum()
    assert type(total) is strict_numpy.ndarray and total.shape == ()
    refused = {
        "asarray": lambda: np.asarray(a),
        "float": lambda: float(total),
        "int": lambda: int(total),
        "item": total.item,
        "tolist": a.tolist,
        "format": lambda: f"{total:.3f}",
        "mix": lambda: a + np.ones(2),
        "reflected mix": lambda: np.ones(2) * a,
        "setitem": lambda: a.__setitem__(0, np.ones(2)),
        "function": lambda: strict_numpy.dot(a, np.eye(2)),
    }
    for what, attempt in refused.items():
        with pytest.raises(
            strict_numpy.HostConversionError, match="implicit host conversion|host numpy"
        ):
            attempt()
        assert what  # every attempt above raised


def test_the_stand_in_computes_like_numpy_and_keeps_arrays_wrapped():
    host = np.arange(6.0).reshape(2, 3)
    a = strict_numpy.asarray(host)
    results = [
        a @ a.T,
        np.exp(a),
        strict_numpy.maximum(a, 2.0),
        a[:, 1:],
        a.T.reshape(-1),
        strict_numpy.lib.stride_tricks.as_strided(a, (2, 2), a.strides),
        -a,
        2.0**a,
    ]
    assert all(type(r) is strict_numpy.ndarray for r in results)
    np.testing.assert_allclose(strict_numpy.asnumpy(results[0]), host @ host.T)
    np.testing.assert_allclose(strict_numpy.asnumpy(results[1]), np.exp(host))
    g = strict_numpy.zeros(3)
    strict_numpy.add.at(g, strict_numpy.asarray([0, 0, 2]), 1.0)
    assert strict_numpy.asnumpy(g).tolist() == [2.0, 0.0, 1.0]
    assert not hasattr(strict_numpy.random.default_rng(0), "permutation")  # as CuPy's


def test_set_backend_points_every_module_at_the_new_array_module(strict):
    assert backend.xp is strict and core.xp is strict and ops_numpy.xp is strict
    assert backend.backend() == STRICT and backend.kernels is None  # C kernels: NumPy only
    assert not backend.kernels_accept(strict.zeros(3, "float32"))
    assert isinstance(backend.rng(), strict.random.default_rng)
    order = backend.permutation(10)  # the stand-in's generator has no permutation
    assert sorted(backend.to_numpy(order).tolist()) == list(range(10))
    assert backend.rng_state() is None  # saving leaves out a state it cannot read


def test_set_backend_back_to_numpy_restores_kernels_and_generator(strict):
    backend.set_backend("numpy")
    assert backend.xp is np and core.xp is np
    assert isinstance(backend.rng(), np.random.Generator)
    assert backend.kernels is backend._load_kernels()


def test_the_host_doors_convert_both_ways(strict):
    host = np.arange(3.0)
    device = backend.to_device(host, "float32")
    assert type(device) is strict.ndarray and device.dtype == np.float32
    assert backend.to_device(device) is device
    back = backend.to_numpy(device)
    assert type(back) is np.ndarray and back.tolist() == [0.0, 1.0, 2.0]
    assert backend.to_float(device.sum()) == 3.0 and backend.to_float(2) == 2.0
    assert backend.to_numpy([device[0], device[2]]).tolist() == [0.0, 2.0]


def test_on_numpy_the_host_doors_do_not_copy():
    a = np.ones(3, "float32")
    assert backend.to_device(a) is a and backend.to_numpy(a) is a
    assert backend.as_float_array(a) is a


def test_a_stray_host_conversion_in_a_layer_fails_under_the_stand_in(strict):
    class MaxScale(keras.layers.Layer):  # a bug: float() syncs with the host on every call
        def forward(self, x, training=False):
            return x / float(x.max())

        def compute_output_shape(self, input_shape):
            return input_shape

    with pytest.raises(strict.HostConversionError, match=r"float\(\) on a device array"):
        MaxScale()(strict.ones((1, 2)))


class _Sink:
    """An object NumPy converts through ``__array__`` (a tape Tensor is one)."""

    def __array__(self, dtype=None, copy=None):
        return np.ones(2)


def test_the_stand_in_refuses_a_round_trip_through_the_host():
    with pytest.raises(strict_numpy.HostConversionError, match="round trip"):
        strict_numpy.asarray(_Sink())


def test_unknown_backend_names_are_refused():
    with pytest.raises(ValueError, match="Unknown backend 'jax'. Expected one of: 'numpy', 'cupy'"):
        backend.set_backend("jax")
    assert backend.xp is np


def test_cupy_without_cupy_installed_says_how_to_install_it():
    try:
        import cupy  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"pip install 'npkeras\[gpu\]'"):
            backend.set_backend("cupy")
        assert backend.xp is np
    else:  # pragma: no cover - a machine with CuPy
        pytest.skip("CuPy is installed here")


def test_an_unknown_backend_in_the_environment_fails_at_import():
    result = _run(["-c", "import npkeras"], "tensorflow", timeout=60)
    assert result.returncode != 0 and "Unknown backend 'tensorflow'" in result.stderr


@pytest.mark.slow
def test_training_predicting_and_saving_touch_the_host_only_through_the_backend(tmp_path):
    """MLP, every activation and loss, a functional multi-input model, an embedding,
    a Keras-style layer through the tape, the other layer families with every optimizer,
    file-writing callbacks and stateful metrics, and a model saved under the stand-in
    that loads on NumPy and back: all under the strict stand-in, in a subprocess."""
    result = _run(["-m", "tests.backend.scenario", str(tmp_path)], STRICT, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    from tests.backend.scenario import PARTS

    assert [line for line in result.stdout.splitlines() if line.startswith("ok ")] == [
        f"ok {name}" for name in PARTS
    ]
    # the model saved on the "device" loads here, on NumPy, with the same predictions
    model = keras.models.load_model(tmp_path / "mlp.npkeras")
    np.testing.assert_allclose(
        model.predict(np.load(tmp_path / "mlp_x.npy"), verbose=0),
        np.load(tmp_path / "mlp_pred.npy"),
        rtol=1e-5,
        atol=1e-6,
    )
