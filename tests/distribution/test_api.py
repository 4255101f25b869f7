"""keras.distribution in one process: the API, its errors, sharding arithmetic and the
loop's multi-process hooks driven by stand-in distributions (no MPI needed)."""

import sys

import numpy as np
import pytest

import npkeras as keras
from npkeras import metrics
from npkeras.distribution import mpi
from npkeras.training import distribution as seam


@pytest.fixture(autouse=True)
def _one_process_again():
    yield
    keras.distribution.set_distribution(None)


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(37, 4)).astype("float32"), rng.normal(size=(37, 1)).astype("float32")


def test_distribution_defaults_to_none_and_set_distribution_round_trips():
    assert keras.distribution.distribution() is None
    data_parallel = keras.distribution.DataParallel()
    keras.distribution.set_distribution(data_parallel)
    assert keras.distribution.distribution() is data_parallel
    keras.distribution.set_distribution(None)
    assert keras.distribution.distribution() is None


def test_set_distribution_rejects_other_objects():
    with pytest.raises(TypeError, match="expects a keras.distribution.DataParallel"):
        keras.distribution.set_distribution("data_parallel")


def test_scope_sets_distribution_inside_the_block_only():
    data_parallel = keras.distribution.DataParallel()
    with data_parallel.scope():
        assert keras.distribution.distribution() is data_parallel
    assert keras.distribution.distribution() is None


def test_one_process_world_lists_one_cpu_and_no_gpu():
    assert keras.distribution.list_devices() == ["cpu:0"]
    assert keras.distribution.list_devices("gpu") == []
    data_parallel = keras.distribution.DataParallel()
    assert (
        data_parallel.num_processes,
        data_parallel.data_shard_id,
        data_parallel.num_model_replicas,
    ) == (1, 0, 1)
    assert data_parallel.device_mesh.shape == (1,)
    assert data_parallel.batch_dim_name == "batch"
    assert "mpi4py.MPI" not in sys.modules  # one process never starts MPI


def test_data_parallel_argument_errors():
    with pytest.raises(ValueError, match="needs 1 device\\(s\\); received 2"):
        keras.distribution.DataParallel(devices=["cpu:0", "cpu:1"])
    mesh = keras.distribution.DeviceMesh((1,), ["batch"])
    with pytest.raises(ValueError, match="`device_mesh` or `devices`, not both"):
        keras.distribution.DataParallel(device_mesh=mesh, devices=["cpu:0"])
    with pytest.raises(ValueError, match="one axis name per dimension"):
        keras.distribution.DeviceMesh((1,), ["batch", "model"])
    with pytest.raises(ValueError, match="needs 2 devices; received 1"):
        keras.distribution.DeviceMesh((2,), ["batch"], ["cpu:0"])


def test_initialize_checks_the_world_it_finds():
    keras.distribution.initialize()
    keras.distribution.initialize(num_processes=1, process_id=0)
    with pytest.raises(ValueError, match="expected num_processes=2, but 1 process"):
        keras.distribution.initialize(num_processes=2)
    with pytest.raises(ValueError, match="expected process_id=1, but this is process 0"):
        keras.distribution.initialize(process_id=1)


def test_launcher_detection_from_environment():
    assert not mpi.launched_by_mpi({})
    assert mpi.launched_by_mpi({"OMPI_COMM_WORLD_SIZE": "4"})
    assert mpi.launched_by_mpi({"PMI_SIZE": "2"})


def test_launched_without_mpi4py_explains_the_extra(monkeypatch):
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # makes `import mpi4py` fail
    with pytest.raises(ImportError, match=r"pip install 'npkeras\[dist\]'"):
        mpi._start()


def _as_rank(rank, size, auto_shard_dataset=True):
    data_parallel = keras.distribution.DataParallel(auto_shard_dataset=auto_shard_dataset)
    data_parallel.world_size, data_parallel.rank = size, rank
    return data_parallel


def test_shards_are_disjoint_blocks_covering_the_batch():
    rows = np.arange(100, 111)  # 11 rows over 4 processes: 2, 3, 3, 3
    blocks = [_as_rank(r, 4).shard(rows) for r in range(4)]
    assert [len(b) for b in blocks] == [2, 3, 3, 3]
    np.testing.assert_array_equal(np.concatenate(blocks), rows)
    assert [_as_rank(r, 4).shard(slice(32, 43)) for r in (0, 3)] == [slice(32, 34), slice(40, 43)]
    assert _as_rank(3, 4, auto_shard_dataset=False).shard(slice(32, 43)) == slice(32, 43)


def test_batch_size_below_process_count_is_refused():
    with pytest.raises(
        ValueError,
        match="needs batch_size and the number of samples to be at "
        "least 4; received batch_size=2 with 100 samples",
    ):
        _as_rank(0, 4).check_batch_size(2, 100)
    _as_rank(0, 4).check_batch_size(4, 4)
    _as_rank(0, 4, auto_shard_dataset=False).check_batch_size(2, 2)


def test_one_process_data_parallel_trains_exactly_like_no_distribution():
    x, y = _data()
    plain = _model()
    plain_history = plain.fit(x, y, batch_size=8, epochs=2, verbose=0).history
    keras.distribution.set_distribution(keras.distribution.DataParallel())
    parallel = _model()
    parallel_history = parallel.fit(x, y, batch_size=8, epochs=2, verbose=0).history
    for a, b in zip(plain.get_weights(), parallel.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert plain_history == parallel_history
    np.testing.assert_array_equal(plain.predict(x, verbose=0), parallel.predict(x, verbose=0))


class _SecondProcess(seam.Distribution):
    """Stands in for a two-process job: the other process's metric states are fixed."""

    world_size, rank = 2, 1

    def __init__(self, other_states):
        self.other_states = other_states

    def reduce_metric_states(self, values):
        return [np.asarray(a) + np.asarray(b) for a, b in zip(values, self.other_states)]

    @property
    def is_chief(self):
        return False


@pytest.mark.parametrize(
    "make",
    [
        lambda: metrics.MeanAbsoluteError(),
        lambda: metrics.AUC(),
        lambda: metrics.R2Score(),
        lambda: metrics.Precision(),
    ],
)
def test_summed_metric_states_give_the_metric_of_all_samples(make):
    rng = np.random.default_rng(1)
    y_true = (rng.random((40, 1)) > 0.5).astype("float64")
    y_pred = rng.random((40, 1))
    whole, first, second = make(), make(), make()
    whole.update_state(y_true, y_pred)
    first.update_state(y_true[:15], y_pred[:15])
    second.update_state(y_true[15:], y_pred[15:])
    other = [2.0, 25.0] + [v.value for v in second.variables]
    loss_sum, seen = seam.reduce_epoch_state(_SecondProcess(other), [first], 1.0, 15.0)
    assert (loss_sum, seen) == (3.0, 40.0)
    assert first.result() == pytest.approx(whole.result(), rel=1e-12)


def test_non_chief_process_skips_file_writing_callbacks(tmp_path):
    checkpoint = keras.callbacks.ModelCheckpoint(str(tmp_path / "m.npkeras"))
    logger = keras.callbacks.CSVLogger(str(tmp_path / "log.csv"))
    stopping = keras.callbacks.EarlyStopping()
    model = _model()
    keras.distribution.set_distribution(_SecondProcess([]))
    kept = keras.callbacks.CallbackList([checkpoint, logger, stopping], model=model).callbacks
    assert kept == [stopping]


def test_overridden_train_step_is_refused_on_several_processes():
    class Custom(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            return {"loss": 0.0}

    model = Custom()
    model.compile(optimizer="sgd", loss="mse")
    keras.distribution.set_distribution(_SecondProcess([]))
    x, y = _data()
    with pytest.raises(ValueError, match="overrides train_step\\(\\), whose gradients"):
        model.fit(x, y, verbose=0)


def test_each_process_takes_its_rows_of_array_and_generator_batches():
    x, y = _data()
    model = _model()
    model.predict(x[:1], verbose=0)  # built
    generator_batches = [(x[i : i + 10], y[i : i + 10]) for i in range(0, 37, 10)]
    parts = {"arrays": [], "generator": []}
    for rank in range(2):
        keras.distribution.set_distribution(_as_rank(rank, 2))
        parts["arrays"].append(
            [xb[0] for xb, _, _ in model._batches([[x], [y], None], 37, 10, False)]
        )
        parts["generator"].append(
            [xb[0] for xb, _, _ in model._iter_generator(generator_batches, None, "fit")]
        )
    for source, (first, second) in parts.items():
        assert [len(b) for b in first] == [5, 5, 5, 3], source  # last batch: 7 rows = 3 + 4
        assert [len(b) for b in second] == [5, 5, 5, 4], source
        rows = np.concatenate([np.concatenate([a, b]) for a, b in zip(first, second)])
        np.testing.assert_array_equal(rows, x)
