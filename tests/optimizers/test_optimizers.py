import math

import numpy as np
import pytest

from npkeras import backend, optimizers
from npkeras.optimizers import schedules

ALL = ["sgd", "adam", "adamw", "adamax", "nadam", "rmsprop", "adagrad", "adadelta"]


@pytest.mark.parametrize("name", ALL)
def test_each_optimizer_minimises_a_quadratic(name):
    opt = optimizers.get(name)
    opt.learning_rate = {"adadelta": 1.0, "adagrad": 0.5}.get(name, 0.05)
    w = np.array([3.0, -2.0])
    for _ in range(2000 if name == "adadelta" else 500):
        opt.apply([2 * w], [w])
    assert np.abs(w).max() < 0.2, (name, w)
    assert opt.iterations == (2000 if name == "adadelta" else 500)


def test_updates_are_in_place():
    w = np.ones(3)
    view = w
    optimizers.Adam().apply([np.ones(3)], [w])
    assert view is w and w[0] < 1


def test_adam_first_step_matches_formula():
    w = np.array([1.0])
    optimizers.Adam(learning_rate=0.1).apply([np.array([0.5])], [w])
    # m = 0.05, v = 0.00025; alpha = 0.1 * sqrt(0.001) / 0.1
    alpha = 0.1 * math.sqrt(1 - 0.999) / (1 - 0.9)
    assert w[0] == pytest.approx(1 - alpha * 0.05 / (math.sqrt(0.00025) + 1e-7))


def test_adagrad_starts_from_initial_accumulator():
    w = np.array([1.0])
    optimizers.Adagrad(learning_rate=1.0).apply([np.array([1.0])], [w])
    assert w[0] == pytest.approx(1 - 1 / math.sqrt(1.1 + 1e-7))


def test_clipvalue_and_global_clipnorm():
    w = np.zeros(2)
    optimizers.SGD(1.0, clipvalue=0.5).apply([np.array([3.0, -0.1])], [w])
    np.testing.assert_allclose(w, [-0.5, 0.1])
    a, b = np.zeros(1), np.zeros(1)
    optimizers.SGD(1.0, global_clipnorm=1.0).apply([np.array([3.0]), np.array([4.0])], [a, b])
    np.testing.assert_allclose([a[0], b[0]], [-0.6, -0.8])


def test_clipnorm_clips_each_packed_weight_on_its_own():
    opt = optimizers.SGD(1.0, clipnorm=1.0)
    flat = np.zeros(4)
    opt.build([flat], segments=[[0, 2, 4]])
    opt.apply([np.array([3.0, 4.0, 0.3, 0.4])], [flat])
    np.testing.assert_allclose(flat, [-0.6, -0.8, -0.3, -0.4])


def test_only_one_clipping_option():
    with pytest.raises(
        ValueError, match="set only one of `clipnorm`, `clipvalue` and `global_clipnorm`"
    ):
        optimizers.SGD(clipnorm=1.0, clipvalue=1.0)


@pytest.mark.parametrize("lr", [float("nan"), float("inf"), -0.1])
def test_bad_learning_rate_is_refused(lr):
    with pytest.raises(
        ValueError,
        match=r"Adam: `learning_rate` must be a finite float >= 0; received learning_rate=",
    ):
        optimizers.Adam(learning_rate=lr)


def test_learning_rate_of_wrong_type():
    with pytest.raises(TypeError, match="`learning_rate` must be a float"):
        optimizers.SGD(learning_rate="fast")


def test_unknown_optimizer_name():
    with pytest.raises(
        ValueError, match=r"Unknown optimizer: 'adamm'. Did you mean 'adam'\?.*Valid optimizers are"
    ):
        optimizers.get("adamm")


def test_state_round_trip_continues_identically():
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(5) for _ in range(6)]
    w1 = np.ones(5)
    opt1 = optimizers.Nadam(0.01)
    for g in grads:
        opt1.apply([g], [w1])
    w2 = np.ones(5)
    opt2 = optimizers.Nadam(0.01)
    for g in grads[:3]:
        opt2.apply([g], [w2])
    state = {k: np.array(v, copy=True) for k, v in opt2.get_state().items()}
    opt3 = optimizers.Nadam(0.01)
    opt3.set_state(state, [w2])
    for g in grads[3:]:
        opt3.apply([g], [w2])
    np.testing.assert_array_equal(w1, w2)


def test_schedule_drives_learning_rate():
    opt = optimizers.SGD(learning_rate=schedules.ExponentialDecay(1.0, 1, 0.5))
    w = np.zeros(1)
    for _ in range(3):
        opt.apply([np.ones(1)], [w])
    assert w[0] == pytest.approx(-(1 + 0.5 + 0.25))
    assert opt.learning_rate == pytest.approx(0.125)


def test_schedules_values():
    assert schedules.InverseTimeDecay(1.0, 10, 1.0)(10) == pytest.approx(0.5)
    assert schedules.PolynomialDecay(1.0, 10, end_learning_rate=0.0)(5) == pytest.approx(0.5)
    assert schedules.PolynomialDecay(1.0, 10, end_learning_rate=0.0)(50) == pytest.approx(0.0)
    cos = schedules.CosineDecay(0.0, decay_steps=10, warmup_target=1.0, warmup_steps=5)
    assert [cos(0), cos(5), cos(10), cos(15)] == pytest.approx([0.0, 1.0, 0.5, 0.0])
    assert schedules.ExponentialDecay(1.0, 10, 0.5, staircase=True)(15) == pytest.approx(0.5)


def test_config_round_trip_with_schedule():
    opt = optimizers.Adam(learning_rate=schedules.CosineDecay(0.1, 100), beta_1=0.8, amsgrad=True)
    twin = optimizers.get(optimizers.serialize(opt))
    assert twin.get_config() == opt.get_config()
    assert twin.learning_rate == pytest.approx(0.1)


def test_optimizer_refuses_other_variables_after_build():
    opt = optimizers.Adam()
    opt.apply([np.ones(2)], [np.ones(2)])
    with pytest.raises(ValueError, match="was built for other variables"):
        opt.apply([np.ones(3)], [np.ones(3)])


KERNEL_OPTIMIZERS = {
    "adam": lambda: optimizers.Adam(0.01),
    "amsgrad": lambda: optimizers.Adam(0.01, amsgrad=True),
    "adamw": lambda: optimizers.AdamW(0.01),
    "sgd": lambda: optimizers.SGD(0.1),
    "momentum": lambda: optimizers.SGD(0.1, momentum=0.9),
    "nesterov": lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
}


@pytest.mark.skipif(backend.kernels is None, reason="the C kernels are not built")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(KERNEL_OPTIMIZERS))
def test_compiled_update_equals_the_numpy_update_bit_for_bit(name, dtype, monkeypatch):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(1001).astype(dtype) for _ in range(10)]
    results = []
    for kernels in (None, backend.kernels):
        monkeypatch.setattr(backend, "kernels", kernels)
        w = np.linspace(-1, 1, 1001).astype(dtype)
        opt = KERNEL_OPTIMIZERS[name]()
        for g in grads:
            opt.apply_flat(g, w)
        results.append(w)
    assert np.array_equal(results[0], results[1])
    assert not np.array_equal(results[0], np.linspace(-1, 1, 1001).astype(dtype))


def test_kernels_are_used_only_for_arrays_they_can_take():
    if backend.kernels is None:
        assert not backend.kernels_accept(np.ones(4, np.float32))
        return
    assert backend.kernels_accept(np.ones(4, np.float32), np.ones(4, np.float32))
    assert backend.kernels_accept(np.ones((2, 2)))
    assert not backend.kernels_accept(np.ones(8)[::2])
    assert not backend.kernels_accept(np.ones(4, np.float16))
    assert not backend.kernels_accept(np.ones(4, np.float32), np.ones(4))


@pytest.mark.parametrize(
    "make", [lambda: optimizers.Adam(0.1), lambda: optimizers.SGD(0.1, momentum=0.5)]
)
def test_non_contiguous_and_half_precision_variables_still_update(make):
    w16 = np.ones(4, np.float16)
    strided = np.ones(8)[::2]
    make().apply([np.ones(4, np.float16), np.ones(4)], [w16, strided])
    assert (w16 < 1).all() and (strided < 1).all()
