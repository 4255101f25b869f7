"""image_dataset_from_directory / text_dataset_from_directory on small folders in tmp_path."""

import numpy as np
import pytest

Image = pytest.importorskip("PIL.Image")

import npkeras as keras
from npkeras.utils import image_dataset_from_directory, text_dataset_from_directory


def write_images(root, counts, size=(6, 4)):
    """counts: {class: n}; image i of class c is filled with the value 10 * class_index + i."""
    for c, (name, n) in enumerate(counts.items()):
        (root / name).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", size, color=(10 * c + i,) * 3).save(root / name / f"{i}.png")
    (root / "notes.md").write_text("not an image")


def collect(dataset):
    xs, ys = zip(*dataset)
    return np.concatenate(xs), np.concatenate(ys)


def test_inferred_labels_class_names_and_shapes(tmp_path, capsys):
    write_images(tmp_path, {"cat": 3, "dog": 2})
    ds = image_dataset_from_directory(tmp_path, image_size=(5, 7), batch_size=2, shuffle=False)
    assert capsys.readouterr().out == "Found 5 files belonging to 2 classes.\n"
    assert ds.class_names == ["cat", "dog"] and len(ds) == 3
    batches = list(ds)
    assert [b[0].shape for b in batches] == [(2, 5, 7, 3), (2, 5, 7, 3), (1, 5, 7, 3)]
    images, labels = collect(ds)
    assert images.dtype == np.float32 and labels.dtype == np.int32
    assert labels.tolist() == [0, 0, 0, 1, 1]
    # pixel values stay 0-255 (uniform images survive resizing exactly)
    assert images[:, 0, 0, 0].tolist() == [0.0, 1.0, 2.0, 10.0, 11.0]
    assert [p.rsplit("/", 2)[-2:] for p in ds.file_paths][3] == ["dog", "0.png"]


@pytest.mark.parametrize(
    "label_mode, expected", [("categorical", [[1, 0], [1, 0], [0, 1]]), ("binary", [[0], [0], [1]])]
)
def test_label_modes(tmp_path, label_mode, expected):
    write_images(tmp_path, {"a": 2, "b": 1})
    ds = image_dataset_from_directory(
        tmp_path, label_mode=label_mode, image_size=(2, 2), shuffle=False, verbose=False
    )
    _, labels = collect(ds)
    assert labels.dtype == np.float32 and labels.tolist() == expected


def test_class_names_choose_and_order_the_classes(tmp_path):
    write_images(tmp_path, {"a": 1, "b": 2, "c": 1})
    ds = image_dataset_from_directory(
        tmp_path, class_names=["c", "a"], image_size=(2, 2), shuffle=False, verbose=False
    )
    images, labels = collect(ds)
    assert ds.class_names == ["c", "a"] and labels.tolist() == [0, 1]
    assert images[:, 0, 0, 0].tolist() == [20.0, 0.0]


def test_explicit_labels_and_no_labels(tmp_path):
    write_images(tmp_path, {"a": 2, "b": 1})
    ds = image_dataset_from_directory(
        tmp_path, labels=[2, 0, 1], image_size=(2, 2), shuffle=False, verbose=False
    )
    assert ds.class_names is None and collect(ds)[1].tolist() == [2, 0, 1]
    images_only = image_dataset_from_directory(
        tmp_path, labels=None, image_size=(2, 2), batch_size=None, shuffle=False, verbose=False
    )
    samples = list(images_only)
    assert len(samples) == 3 and samples[0].shape == (2, 2, 3)  # unbatched, no labels


def test_color_modes_data_format_and_aspect_ratio(tmp_path):
    (tmp_path / "x").mkdir()
    wide = Image.new("L", (8, 2), color=0)
    wide.paste(255, (2, 0, 6, 2))  # a white centre band, 4 pixels wide
    wide.save(tmp_path / "x" / "wide.png")
    kwargs = {"image_size": (2, 2), "shuffle": False, "verbose": False, "labels": None}
    gray = next(iter(image_dataset_from_directory(tmp_path, color_mode="grayscale", **kwargs)))
    assert gray.shape == (1, 2, 2, 1)
    rgba = next(
        iter(
            image_dataset_from_directory(
                tmp_path, color_mode="rgba", data_format="channels_first", **kwargs
            )
        )
    )
    assert rgba.shape == (1, 4, 2, 2)
    cropped = next(
        iter(
            image_dataset_from_directory(
                tmp_path,
                color_mode="grayscale",
                crop_to_aspect_ratio=True,
                interpolation="nearest",
                **kwargs,
            )
        )
    )
    assert cropped.min() == 255.0  # the centred 2x2 crop lies in the white band
    padded = next(
        iter(
            image_dataset_from_directory(
                tmp_path,
                color_mode="grayscale",
                image_size=(8, 8),
                pad_to_aspect_ratio=True,
                interpolation="nearest",
                **{k: v for k, v in kwargs.items() if k != "image_size"},
            )
        )
    )
    assert padded[0, 0, :, 0].max() == 0.0 and padded[0, 3, 2:6, 0].min() == 255.0


def test_validation_split_subsets_are_disjoint_and_reproducible(tmp_path, capsys):
    write_images(tmp_path, {"a": 5, "b": 5})
    kwargs = {"image_size": (2, 2), "validation_split": 0.3, "seed": 7, "batch_size": 4}
    train, val = image_dataset_from_directory(tmp_path, subset="both", **kwargs)
    assert capsys.readouterr().out.splitlines() == [
        "Found 10 files belonging to 2 classes.",
        "Using 7 files for training.",
        "Using 3 files for validation.",
    ]
    assert len(train.file_paths) == 7 and len(val.file_paths) == 3
    assert not set(train.file_paths) & set(val.file_paths)
    again = image_dataset_from_directory(tmp_path, subset="validation", verbose=False, **kwargs)
    assert again.file_paths == val.file_paths
    assert train.class_names == val.class_names == ["a", "b"]


def test_shuffle_changes_each_pass_and_keeps_labels_with_images(tmp_path):
    write_images(tmp_path, {"a": 4, "b": 4})
    ds = image_dataset_from_directory(tmp_path, image_size=(2, 2), seed=3, verbose=False)
    first, second = collect(ds), collect(ds)
    assert first[1].tolist() != second[1].tolist() or first[0].tolist() != second[0].tolist()
    for images, labels in (first, second):
        # class b's images have pixel values >= 10: the label travels with its image
        assert ((images[:, 0, 0, 0] >= 10) == (labels == 1)).all()


def test_fit_trains_on_the_dataset(tmp_path):
    write_images(tmp_path, {"dark": 4, "light": 0})
    for i in range(4):
        (tmp_path / "light").mkdir(exist_ok=True)
        Image.new("RGB", (4, 4), color=(200 + i,) * 3).save(tmp_path / "light" / f"{i}.png")
    ds = image_dataset_from_directory(
        tmp_path, image_size=(4, 4), batch_size=4, seed=1, verbose=False
    )
    model = keras.Sequential(
        [
            keras.Input(shape=(4, 4, 3)),
            keras.layers.Flatten(),
            keras.layers.Normalization(mean=100.0, variance=100.0**2),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.05),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(ds, epochs=10, verbose=0)
    assert len(history.history["loss"]) == 10 and history.history["accuracy"][-1] == 1.0


def test_text_dataset(tmp_path):
    reviews = {"neg": ["bad", "awful film"], "pos": ["good", "great film", "fine"]}
    for name, texts in reviews.items():
        (tmp_path / name).mkdir()
        for i, text in enumerate(texts):
            (tmp_path / name / f"{i}.txt").write_text(text, encoding="utf-8")
    (tmp_path / "pos" / "skip.csv").write_text("not a .txt file")
    ds = text_dataset_from_directory(
        tmp_path, batch_size=4, max_length=5, shuffle=False, label_mode="categorical", verbose=False
    )
    assert ds.class_names == ["neg", "pos"] and len(ds) == 2
    texts, labels = collect(ds)
    assert texts.tolist() == ["bad", "awful", "good", "great", "fine"]
    assert labels.tolist() == [[1, 0], [1, 0], [0, 1], [0, 1], [0, 1]]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"labels": "folders"}, "`labels` argument should be a list/tuple of integer labels"),
        (
            {"labels": None, "class_names": ["a"]},
            "You can only pass `class_names` if `labels='inferred'`",
        ),
        ({"label_mode": "sparse"}, "`label_mode` argument must be one of"),
        (
            {"class_names": ["a", "z"]},
            r"did not match the names of the subdirectories .* Expected: \['a', 'b', 'c'\]",
        ),
        ({"labels": [0, 1]}, "len\\(labels\\) is 2 while we found 3 files"),
        ({"label_mode": "binary"}, "there must be exactly 2 class_names"),
        ({"validation_split": 0.2}, "If `subset` is set, `validation_split` must be set"),
        (
            {"validation_split": 1.5, "subset": "training"},
            "`validation_split` must be between 0 and 1",
        ),
        ({"validation_split": 0.2, "subset": "train", "seed": 1}, "`subset` must be either"),
        ({"validation_split": 0.2, "subset": "training"}, "you must provide a `seed`"),
        ({"batch_size": 0}, "`batch_size` must be a positive integer or None"),
        ({"color_mode": "cmyk"}, "`color_mode` must be one of"),
        ({"interpolation": "cubic"}, "`interpolation` must be one of"),
        ({"image_size": (4,)}, "`image_size` must be a pair of positive integers"),
        ({"crop_to_aspect_ratio": True, "pad_to_aspect_ratio": True}, "Only one of"),
    ],
)
def test_errors(tmp_path, kwargs, message):
    write_images(tmp_path, {"a": 1, "b": 1, "c": 1})
    with pytest.raises(ValueError, match=message):
        image_dataset_from_directory(tmp_path, verbose=False, **kwargs)


def test_empty_and_missing_directories(tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(ValueError, match=r"No images found in directory .* Allowed formats"):
        image_dataset_from_directory(tmp_path, verbose=False)
    with pytest.raises(ValueError, match="Could not find directory"):
        text_dataset_from_directory(tmp_path / "missing", verbose=False)
    with pytest.raises(ValueError, match="`max_length` must be a positive integer"):
        text_dataset_from_directory(tmp_path, max_length=0)
