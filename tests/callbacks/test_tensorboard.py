"""The TensorBoard callback: events read back with TensorBoard's own reader hold the
values fit logged (scalars per epoch and per batch, histograms, graph, texts)."""

import os

import numpy as np
import pytest

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

import npkeras as keras
from npkeras.callbacks import TensorBoard


def read_events(run_dir):
    """Every event of one run directory (``log_dir/train`` or ``log_dir/validation``)."""
    everything = {"scalars": 0, "histograms": 0, "images": 0, "tensors": 0}
    acc = event_accumulator.EventAccumulator(str(run_dir), size_guidance=everything)
    acc.Reload()
    return acc


def scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def small_model():
    model = keras.Sequential(
        [keras.Input(shape=(3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    return model


def regression_data(n=40):
    x = np.random.default_rng(0).normal(size=(n, 3)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def test_epoch_scalars_in_train_and_validation_runs(tmp_path):
    model, (x, y) = small_model(), regression_data()
    history = model.fit(
        x,
        y,
        epochs=3,
        batch_size=10,
        validation_split=0.25,
        verbose=0,
        callbacks=[TensorBoard(log_dir=tmp_path)],
    )
    assert sorted(os.listdir(tmp_path)) == ["train", "validation"]
    train, val = read_events(tmp_path / "train"), read_events(tmp_path / "validation")
    for name in ("loss", "mae"):
        logged = scalars(train, f"epoch_{name}")
        assert [step for step, _ in logged] == [0, 1, 2]
        np.testing.assert_allclose([v for _, v in logged], history.history[name], rtol=1e-6)
        np.testing.assert_allclose(
            [v for _, v in scalars(val, f"epoch_{name}")], history.history[f"val_{name}"], rtol=1e-6
        )
    assert [v for _, v in scalars(train, "epoch_learning_rate")] == pytest.approx([0.05] * 3)
    assert not any(tag.startswith("batch_") for tag in train.Tags()["scalars"])
    assert "epoch_learning_rate" not in val.Tags()["scalars"]


@pytest.mark.parametrize("update_freq, steps", [("batch", [1, 2, 3, 4, 5, 6]), (4, [4])])
def test_batch_scalars_follow_update_freq(tmp_path, update_freq, steps):
    model, (x, y) = small_model(), regression_data(30)
    batch_losses = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batch_losses.append(logs["loss"])
    )
    model.fit(
        x,
        y,
        epochs=2,
        batch_size=10,
        verbose=0,
        callbacks=[TensorBoard(tmp_path, update_freq=update_freq), record],
    )
    logged = scalars(read_events(tmp_path / "train"), "batch_loss")
    assert [step for step, _ in logged] == steps  # the global batch count, across epochs
    np.testing.assert_allclose(
        [v for _, v in logged], [batch_losses[s - 1] for s in steps], rtol=1e-6
    )


def test_weight_and_gradient_histograms_every_histogram_freq_epochs(tmp_path):
    model, (x, y) = small_model(), regression_data()
    weights_after_epoch = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: weights_after_epoch.append(
            model.layers[0].params["kernel"].copy()
        )
    )
    model.fit(
        x,
        y,
        epochs=3,
        batch_size=40,
        verbose=0,
        callbacks=[TensorBoard(tmp_path, histogram_freq=2, write_images=True), record],
    )
    train = read_events(tmp_path / "train")
    assert set(train.Tags()["histograms"]) == {
        f"{layer.name}/{weight}/{kind}"
        for layer in model.layers
        for weight in ("kernel", "bias")
        for kind in ("histogram", "gradient")
    }
    kernel = model.layers[0]
    histograms = train.Histograms(f"{kernel.name}/kernel/histogram")
    assert [h.step for h in histograms] == [0, 2]
    for h, epoch in zip(histograms, (0, 2)):
        w = weights_after_epoch[epoch]
        value = h.histogram_value
        assert value.num == w.size
        assert value.min == pytest.approx(w.min()) and value.max == pytest.approx(w.max())
        assert value.sum == pytest.approx(w.sum(), rel=1e-5)
    # one batch per epoch: the gradient logged is the gradient of the whole epoch's batch
    gradient = train.Histograms(f"{kernel.name}/kernel/gradient")[-1].histogram_value
    assert gradient.num == kernel.params["kernel"].size and gradient.sum_squares > 0
    images = {tag: train.Images(tag)[-1] for tag in train.Tags()["images"]}
    # as in Keras, weights are squeezed first, so the last layer's bias (1,) has no image
    last = model.layers[1].name
    assert set(images) == {
        f"{kernel.name}/kernel/image",
        f"{kernel.name}/bias/image",
        f"{last}/kernel/image",
    }
    # kernel (3, 4) drawn as is; bias (4,) and kernel (4, 1) (squeezed to (4,)) as a column
    sizes = {tag: (image.height, image.width) for tag, image in images.items()}
    assert sizes[f"{kernel.name}/kernel/image"] == (3, 4)
    assert sizes[f"{last}/kernel/image"] == (4, 1)
    assert sizes[f"{kernel.name}/bias/image"] == (4, 1)


def test_graph_config_and_run_metadata(tmp_path):
    model, (x, y) = small_model(), regression_data()
    model.fit(x, y, epochs=1, batch_size=20, verbose=0, callbacks=[TensorBoard(tmp_path)])
    train = read_events(tmp_path / "train")
    graph = train.Graph()  # the ONNX export, drawn in TensorBoard's graph tab
    assert {node.op for node in graph.node} >= {"MatMul", "Add", "Relu"}
    config = train.Tensors("model_config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert '"class_name": "Sequential"' in config and '"units": 4' in config
    meta = train.Tensors("run_metadata/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "| epochs | 1 |" in meta and "| parameters | 21 |" in meta and "SGD" in meta


def test_no_graph_when_not_asked_and_for_unexportable_models(tmp_path):
    model, (x, y) = small_model(), regression_data()
    model.fit(x, y, epochs=1, verbose=0, callbacks=[TensorBoard(tmp_path / "a", write_graph=False)])
    no_graph = read_events(tmp_path / "a" / "train")
    assert "model_config/text_summary" not in no_graph.Tags()["tensors"]

    class Halve(keras.layers.Layer):
        def forward(self, x, training=False):
            return x / 2

        def backward(self, dy):
            return dy / 2

    custom = keras.Sequential([keras.Input(shape=(3,)), Halve(), keras.layers.Dense(1)])
    custom.compile(optimizer="sgd", loss="mse")
    custom.fit(x, y, epochs=1, verbose=0, callbacks=[TensorBoard(tmp_path / "b")])
    train = read_events(tmp_path / "b" / "train")
    assert not train.Tags()["graph"]  # no ONNX converter for Halve: config text only
    assert "model_config/text_summary" in train.Tags()["tensors"]


def test_evaluate_logs_evaluation_scalars_by_iteration(tmp_path):
    model, (x, y) = small_model(), regression_data()
    tensorboard = TensorBoard(tmp_path)
    model.fit(x, y, epochs=2, batch_size=10, verbose=0, callbacks=[tensorboard])
    result = model.evaluate(x, y, verbose=0, callbacks=[tensorboard], return_dict=True)
    logged = scalars(read_events(tmp_path / "validation"), "evaluation_loss_vs_iterations")
    assert logged == [(8, pytest.approx(result["loss"]))]  # 2 epochs of 4 batches


def test_two_quick_runs_in_one_log_dir_keep_both_event_files(tmp_path):
    model, (x, y) = small_model(), regression_data()
    for _ in range(2):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[TensorBoard(tmp_path)])
    assert len(os.listdir(tmp_path / "train")) == 2
    assert len(scalars(read_events(tmp_path / "train"), "epoch_loss")) == 2


def test_steps_per_second(tmp_path):
    model, (x, y) = small_model(), regression_data()
    model.fit(
        x,
        y,
        epochs=2,
        batch_size=10,
        verbose=0,
        callbacks=[TensorBoard(tmp_path, write_steps_per_second=True)],
    )
    rates = scalars(read_events(tmp_path / "train"), "epoch_steps_per_second")
    assert len(rates) == 2 and all(rate > 0 for _, rate in rates)


def test_argument_errors_and_warnings(tmp_path):
    with pytest.raises(
        ValueError,
        match=r"`update_freq` of TensorBoard, expected 'epoch', "
        r"'batch' or a positive integer\. Received: "
        r"update_freq='step'",
    ):
        TensorBoard(tmp_path, update_freq="step")
    with pytest.raises(
        ValueError,
        match=r"`histogram_freq` of TensorBoard, expected a "
        r"non-negative integer\. Received: histogram_freq=-1",
    ):
        TensorBoard(tmp_path, histogram_freq=-1)
    with pytest.warns(UserWarning, match="profiling and embeddings need TensorFlow"):
        TensorBoard(tmp_path, profile_batch=2)


def test_weight_images_follow_keras_layout():
    from npkeras.callbacks.tensorboard import _as_images

    assert _as_images(np.zeros((3, 2, 5))).shape == (5, 3, 2, 1)  # one image per filter
    assert _as_images(np.zeros((6, 2))).shape == (1, 2, 6, 1)  # long side across
    assert _as_images(np.zeros((2, 2, 2, 2))) is None  # Keras draws no 4-D kernels
    assert _as_images(np.array([1.0, 3.0, 2.0])).ravel().tolist() == [0.0, 1.0, 0.5]
