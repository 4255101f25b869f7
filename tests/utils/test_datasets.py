import numpy as np
import pytest

import npkeras as keras
from npkeras import utils


def test_pad_sequences_like_keras():
    seqs = [[1, 2, 3, 4], [5, 6], [], [7]]
    assert utils.pad_sequences(seqs).tolist() == [
        [1, 2, 3, 4],
        [0, 0, 5, 6],
        [0, 0, 0, 0],
        [0, 0, 0, 7],
    ]
    out = utils.pad_sequences(seqs, maxlen=3, padding="post", truncating="post", value=9)
    assert out.tolist() == [[1, 2, 3], [5, 6, 9], [9, 9, 9], [7, 9, 9]]
    assert out.dtype == np.int32
    floats = utils.pad_sequences([[0.5, 1.5]], maxlen=3, dtype="float32")
    assert floats.tolist() == [[0.0, 0.5, 1.5]]
    vectors = utils.pad_sequences([np.ones((2, 3)), np.ones((1, 3))], dtype="float32")
    assert vectors.shape == (2, 2, 3) and vectors[1, 0].sum() == 0.0
    words = utils.pad_sequences([["a", "b"], ["c"]], dtype=object, value="<pad>")
    assert words.tolist() == [["a", "b"], ["<pad>", "c"]]
    assert utils.pad_sequences([[1, 2]], maxlen=0).shape == (1, 0)


def test_pad_sequences_errors():
    with pytest.raises(ValueError, match='Padding type "middle" not understood'):
        utils.pad_sequences([[1]], padding="middle")
    with pytest.raises(ValueError, match='Truncating type "both" not understood'):
        utils.pad_sequences([[1]], truncating="both")
    with pytest.raises(ValueError, match="Found non-iterable: 3 at position 1"):
        utils.pad_sequences([[1], 3])
    with pytest.raises(ValueError, match="`maxlen` must be a non-negative integer"):
        utils.pad_sequences([[1]], maxlen=-1)
    with pytest.raises(ValueError, match="is not compatible with `value`'s type"):
        utils.pad_sequences([[1]], value="x")


def test_timeseries_windows_targets_and_sampling():
    data = np.arange(20).reshape(10, 2)
    ds = utils.timeseries_dataset_from_array(
        data,
        np.arange(10) * 10,
        sequence_length=3,
        sequence_stride=2,
        sampling_rate=2,
        batch_size=2,
    )
    batches = list(ds)
    assert len(ds) == len(batches) == 2
    windows = np.concatenate([w for w, _ in batches])
    targets = np.concatenate([t for _, t in batches])
    # starts 0, 2, 4 (a window spans 5 steps: 10 - 4 = 6 starts, every second one)
    np.testing.assert_array_equal(windows[:, :, 0], [[0, 4, 8], [4, 8, 12], [8, 12, 16]])
    np.testing.assert_array_equal(targets, [0, 20, 40])
    only = utils.timeseries_dataset_from_array(
        np.arange(10), None, 4, start_index=2, end_index=8, batch_size=None
    )
    assert [w.tolist() for w in only] == [[[2, 3, 4, 5], [3, 4, 5, 6], [4, 5, 6, 7]]]
    shuffled = utils.timeseries_dataset_from_array(np.arange(50), None, 5, shuffle=True, seed=3)
    starts = np.concatenate(list(shuffled))[:, 0]
    assert sorted(starts.tolist()) == list(range(46)) and starts.tolist() != list(range(46))


def test_timeseries_errors():
    with pytest.raises(ValueError, match="`sequence_length` must be a positive integer"):
        utils.timeseries_dataset_from_array(np.arange(5), None, 0)
    with pytest.raises(
        ValueError, match="No window fits: 5 time steps give none of sequence_length=6"
    ):
        utils.timeseries_dataset_from_array(np.arange(5), None, 6)
    with pytest.raises(ValueError, match=r"`end_index` must be an integer in \(3, 5\]"):
        utils.timeseries_dataset_from_array(np.arange(5), None, 2, start_index=3, end_index=9)


class Batches(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.epochs_ended = 0

    def __len__(self):
        return int(np.ceil(len(self.x) / self.batch_size))

    def __getitem__(self, index):
        part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[part], self.y[part]

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_py_dataset_in_fit_evaluate_predict(rng):
    x = rng.standard_normal((50, 2)).astype("float32")
    y = x @ np.array([[1.0], [-1.0]], dtype="float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    data = Batches(x, y, 16)
    steps = []

    class Steps(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            steps.append(self.params["steps"])

    history = model.fit(data, epochs=4, verbose=0, callbacks=[Steps()])
    assert data.epochs_ended == 4 and steps == [4]
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.evaluate(data, verbose=0) == pytest.approx(
        model.evaluate(x, y, verbose=0), rel=1e-5
    )
    np.testing.assert_allclose(
        model.predict(data, verbose=0), model.predict(x, verbose=0), rtol=1e-6
    )
    assert keras.utils.Sequence is keras.utils.PyDataset
    window_model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    window_model.compile("sgd", "mse")
    series = utils.timeseries_dataset_from_array(np.arange(30.0), np.arange(30.0), 3, batch_size=8)
    window_model.fit(series, epochs=1, verbose=0)
    assert window_model.predict(series, verbose=0).shape == (28, 1)


def test_py_dataset_must_define_len():
    with pytest.raises(NotImplementedError, match="must define __len__"):
        len(keras.utils.PyDataset())


def test_split_dataset_takes_a_tuple_like_keras():
    x, y = np.arange(10), np.arange(10) * 2
    (xl, yl), (xr, yr) = utils.split_dataset((x, y), right_size=3)
    assert xl.tolist() == list(range(7)) and yl.tolist() == [2 * i for i in range(7)]
    assert xr.tolist() == [7, 8, 9] and yr.tolist() == [14, 16, 18]
