"""keras.preprocessing: Keras 3's names, smart_resize, image arrays and files, sequences."""

import io
import sys

import numpy as np
import pytest

import npkeras as keras
from npkeras.utils import image_utils

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

image = keras.preprocessing.image


def test_namespace_holds_keras_3s_names_and_reuses_keras_utils():
    # the names of keras/preprocessing/{__init__,image,sequence}.py in Keras 3.15
    assert sorted(keras.preprocessing.__all__) == [
        "image",
        "image_dataset_from_directory",
        "sequence",
        "text_dataset_from_directory",
        "timeseries_dataset_from_array",
    ]
    assert sorted(image.__all__) == [
        "array_to_img",
        "img_to_array",
        "load_img",
        "save_img",
        "smart_resize",
    ]
    assert keras.preprocessing.sequence.__all__ == ["pad_sequences"]
    for name in ("image_dataset_from_directory", "text_dataset_from_directory"):
        assert getattr(keras.preprocessing, name) is getattr(keras.utils, name)
    assert keras.preprocessing.timeseries_dataset_from_array is (
        keras.utils.timeseries_dataset_from_array
    )
    assert keras.preprocessing.sequence.pad_sequences is keras.utils.pad_sequences
    for name in ("array_to_img", "img_to_array", "load_img", "save_img"):
        assert getattr(image, name) is getattr(keras.utils, name)


def test_smart_resize_crops_the_centred_window_then_resizes_bilinearly():
    # x[i, j] = 7 i + j. Target (3, 4): Keras's window is 5 rows by int(5 * 4 / 3) = 6
    # columns from column 0; half-pixel centres sample rows (k + 0.5) * 5/3 - 0.5 and
    # columns (k + 0.5) * 6/4 - 0.5, where bilinear interpolation of a linear ramp is exact
    x = np.arange(35, dtype=np.float32).reshape(5, 7, 1)
    rows = (np.arange(3) + 0.5) * 5 / 3 - 0.5
    cols = (np.arange(4) + 0.5) * 6 / 4 - 0.5
    expected = 7 * rows[:, None] + cols[None, :]
    out = image.smart_resize(x, (3, 4))
    assert out.shape == (3, 4, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out[..., 0], expected, rtol=1e-6)
    # Keras 3.15 (JAX) printed these values for the same call
    np.testing.assert_allclose(
        out[0, :, 0], [2.5833333, 4.0833330, 5.5833330, 7.0833330], rtol=1e-6
    )


def test_smart_resize_nearest_batches_and_channels_first():
    x = np.arange(100, dtype=np.float32).reshape(10, 10, 1)
    # nearest picks floor((k + 0.5) * 10 / 3) = 1, 5, 8 along both axes
    picked = x[[1, 5, 8]][:, [1, 5, 8]]
    np.testing.assert_array_equal(image.smart_resize(x, (3, 3), interpolation="nearest"), picked)
    rng = np.random.default_rng(0)
    batch = rng.uniform(0, 255, (2, 5, 9, 3)).astype(np.float32)
    last = image.smart_resize(batch, (4, 4))
    first = image.smart_resize(batch.transpose(0, 3, 1, 2), (4, 4), data_format="channels_first")
    assert last.shape == (2, 4, 4, 3)
    np.testing.assert_allclose(first, last.transpose(0, 3, 1, 2), rtol=1e-6)
    np.testing.assert_allclose(last[1], image.smart_resize(batch[1], (4, 4)), rtol=1e-6)
    pixels = np.arange(6, dtype=np.uint8).reshape(2, 3, 1)
    assert image.smart_resize(pixels, (2, 3)).dtype == np.float32


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((np.zeros((4, 4)), (2, 2)), {}, "incorrect rank, of shape \\(4, 4\\)"),
        ((np.zeros((4, 4, 1)), (2, 2, 2)), {}, "`size` to be a tuple of 2 integers"),
        ((np.zeros((4, 4, 1)), (2, 2)), {"interpolation": "bicubic"}, "'bilinear' or 'nearest'"),
        ((np.zeros((4, 4, 1)), (2, 2)), {"data_format": "nhwc"}, "must be one of"),
    ],
)
def test_smart_resize_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        image.smart_resize(*args, **kwargs)


def test_img_to_array_and_array_to_img_round_trip_in_both_data_formats():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (3, 5, 3)).astype(np.float32)
    img = image.array_to_img(rgb, scale=False)
    assert (img.mode, img.size) == ("RGB", (5, 3))
    np.testing.assert_array_equal(image.img_to_array(img), rgb)
    first = image.img_to_array(img, data_format="channels_first")
    assert first.shape == (3, 3, 5) and first.dtype == np.float32
    back = image.array_to_img(first, data_format="channels_first", scale=False)
    np.testing.assert_array_equal(np.asarray(back), rgb.astype(np.uint8))
    gray = Image.fromarray(np.array([[0, 255], [128, 64]], np.uint8), "L")
    assert image.img_to_array(gray).shape == (2, 2, 1)
    assert image.img_to_array(gray, data_format="channels_first").shape == (1, 2, 2)
    assert image.img_to_array(gray, dtype="uint8").dtype == np.uint8


def test_array_to_img_scales_to_0_255_and_picks_the_mode():
    x = np.array([[0.0, 0.5], [1.0, 0.25]], np.float32)[:, :, None]
    img = image.array_to_img(x)
    assert img.mode == "L"
    np.testing.assert_array_equal(np.asarray(img), [[0, 127], [255, 63]])  # truncated
    assert image.array_to_img(np.full((2, 2, 1), 1000.0), scale=False).mode == "I"
    assert image.array_to_img(np.zeros((2, 2, 4))).mode == "RGBA"
    with pytest.raises(ValueError, match="Unsupported channel number: 2"):
        image.array_to_img(np.zeros((2, 2, 2)))
    with pytest.raises(
        ValueError, match="rank 3 \\(single image\\). Got array with shape: \\(2, 2\\)"
    ):
        image.array_to_img(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="Unsupported image shape: \\(2,\\)"):
        image.img_to_array(np.zeros(2))


def test_save_img_and_load_img(tmp_path):
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (4, 8, 3)).astype(np.float32)
    path = tmp_path / "x.png"
    image.save_img(path, pixels, scale=False)
    loaded = image.load_img(path)
    assert (loaded.mode, loaded.size) == ("RGB", (8, 4))
    np.testing.assert_array_equal(image.img_to_array(loaded), pixels)  # PNG is lossless
    assert image.load_img(str(path), color_mode="grayscale").mode == "L"
    assert image.load_img(path, color_mode="rgba").mode == "RGBA"
    with open(path, "rb") as f:
        from_bytes = image.load_img(io.BytesIO(f.read()))
    np.testing.assert_array_equal(np.asarray(from_bytes), np.asarray(loaded))
    # nearest resize of the whole image: columns floor((k + 0.5) * 8 / 2) = 2 and 6
    small = image.img_to_array(image.load_img(path, target_size=(2, 2)))
    np.testing.assert_array_equal(small, pixels[[1, 3]][:, [2, 6]])
    # keep_aspect_ratio: the centred 4 x 4 window (columns 2..5) is resized instead
    kept = image.img_to_array(image.load_img(path, target_size=(2, 2), keep_aspect_ratio=True))
    np.testing.assert_array_equal(kept, pixels[[1, 3]][:, [3, 5]])
    with pytest.warns(UserWarning, match="JPEG format does not support RGBA"):
        image.save_img(tmp_path / "x.jpg", np.zeros((2, 2, 4)))
    assert Image.open(tmp_path / "x.jpg").format == "JPEG"


def test_load_img_errors(tmp_path):
    path = tmp_path / "x.png"
    image.save_img(path, np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match='color_mode must be "grayscale", "rgb", or "rgba"'):
        image.load_img(path, color_mode="cmyk")
    with pytest.raises(ValueError, match="Invalid interpolation method cubic specified"):
        image.load_img(path, target_size=(1, 1), interpolation="cubic")
    with pytest.raises(
        TypeError, match="path should be path-like or io.BytesIO, not <class 'int'>"
    ):
        image.load_img(3)


def test_missing_pillow_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match="load_img needs Pillow: `pip install pillow`"):
        image_utils.load_img("x.png")
    with pytest.raises(ImportError, match="array_to_img needs Pillow"):
        image.array_to_img(np.zeros((2, 2, 3)))


def test_pad_sequences_options_through_keras_preprocessing():
    pad = keras.preprocessing.sequence.pad_sequences
    seqs = [[1, 2, 3, 4], [5, 6], [7]]
    assert pad(seqs).tolist() == [[1, 2, 3, 4], [0, 0, 5, 6], [0, 0, 0, 7]]
    assert pad(seqs, maxlen=3, padding="post", truncating="post").tolist() == [
        [1, 2, 3],
        [5, 6, 0],
        [7, 0, 0],
    ]
    assert pad(seqs, maxlen=2, value=-1).tolist() == [[3, 4], [5, 6], [-1, 7]]
    floats = pad([[0.5], [1.5, 2.5]], dtype="float32")
    assert floats.dtype == np.float32 and floats.tolist() == [[0.0, 0.5], [1.5, 2.5]]
    vectors = pad([np.ones((1, 2)), np.full((2, 2), 3.0)], dtype="float32", padding="post")
    assert vectors.shape == (2, 2, 2) and vectors[0, 1].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match='Padding type "middle" not understood'):
        pad(seqs, padding="middle")


def test_timeseries_dataset_from_array_through_keras_preprocessing():
    data = np.arange(10)
    batches = list(
        keras.preprocessing.timeseries_dataset_from_array(
            data, targets=data[3:], sequence_length=3, batch_size=4
        )
    )
    windows, targets = batches[0]
    assert windows.tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]]
    assert targets.tolist() == [3, 4, 5, 6]
