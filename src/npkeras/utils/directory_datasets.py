"""``image_dataset_from_directory`` and ``text_dataset_from_directory``: Keras's loaders
for a folder of class subfolders, yielding NumPy batches (Pillow reads the images).

Files are listed once; their contents are read batch by batch as the dataset is
iterated, so a folder larger than memory works. Each new iteration (each epoch of
``fit``) reshuffles when ``shuffle=True``, as Keras's datasets do.
"""

from __future__ import annotations

import math
import os

from npkeras import backend
from npkeras.backend import host_xp

IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
TEXT_FORMATS = (".txt",)
_LABEL_MODES = ("int", "categorical", "binary", None)
_COLOR_MODES = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}
_INTERPOLATIONS = {
    "nearest": "NEAREST",
    "bilinear": "BILINEAR",
    "bicubic": "BICUBIC",
    "area": "BOX",
    "lanczos3": "LANCZOS",
    "lanczos5": "LANCZOS",
}


class DirectoryDataset:
    """An iterable of NumPy batches: ``(inputs, labels)``, or ``inputs`` alone when the
    dataset has no labels. ``len()`` is the number of batches per pass.

    Attributes:
        class_names: the class of each label index (None when labels were given as a list
            or are absent).
        file_paths: the files of this dataset, in index order (before any shuffling).
    """

    def __init__(
        self,
        file_paths,
        labels,
        class_names,
        label_mode,
        num_classes,
        batch_size,
        shuffle,
        seed,
        load,
    ):
        self.file_paths = list(file_paths)
        self.class_names = class_names
        self.batch_size = batch_size
        self._labels = (
            None if label_mode is None else _encode_labels(labels, label_mode, num_classes)
        )
        self._shuffle = shuffle
        self._rng = host_xp.random.default_rng(seed)
        self._load = load

    def __len__(self) -> int:
        return (
            len(self.file_paths)
            if self.batch_size is None
            else math.ceil(len(self.file_paths) / self.batch_size)
        )

    def __iter__(self):
        n = len(self.file_paths)
        order = self._rng.permutation(n) if self._shuffle else host_xp.arange(n)
        if self.batch_size is None:  # unbatched: one sample at a time
            for i in order:
                x = self._load(self.file_paths[i])
                yield x if self._labels is None else (x, self._labels[i])
            return
        for start in range(0, n, self.batch_size):
            index = order[start : start + self.batch_size]
            x = host_xp.stack([host_xp.asarray(self._load(self.file_paths[i])) for i in index])
            yield x if self._labels is None else (x, self._labels[index])

    def __repr__(self) -> str:
        return (
            f"<DirectoryDataset files={len(self.file_paths)} batches={len(self)} "
            f"class_names={self.class_names}>"
        )


def _encode_labels(labels, label_mode, num_classes):
    labels = host_xp.asarray(labels, dtype="int32")
    if label_mode == "int":
        return labels
    if label_mode == "binary":
        return labels.astype("float32").reshape(-1, 1)
    return host_xp.eye(num_classes, dtype="float32")[labels]  # categorical: one-hot rows


def _check_arguments(
    labels, label_mode, class_names, batch_size, validation_split, subset, shuffle, seed
):
    if not (
        labels is None
        or isinstance(labels, (list, tuple))
        or (isinstance(labels, str) and labels == "inferred")
    ):
        raise ValueError(
            "`labels` argument should be a list/tuple of integer labels, of the same size as "
            "the number of files in the target directory. If you wish to infer the labels "
            "from the subdirectory names in the target directory, pass `labels='inferred'`. "
            "If you wish to get a dataset that only contains the inputs (no labels), pass "
            f"`labels=None`. Received: labels={labels!r}"
        )
    if class_names is not None and labels != "inferred":
        raise ValueError(
            "You can only pass `class_names` if `labels='inferred'`. "
            f"Received: labels={labels!r}, and class_names={class_names!r}"
        )
    if label_mode not in _LABEL_MODES:
        raise ValueError(
            "`label_mode` argument must be one of 'int', 'categorical', 'binary', or None. "
            f"Received: label_mode={label_mode!r}"
        )
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise ValueError(
            f"`batch_size` must be a positive integer or None. Received: batch_size={batch_size!r}"
        )
    if validation_split is not None and not 0 < validation_split < 1:
        raise ValueError(
            f"`validation_split` must be between 0 and 1, received: {validation_split}"
        )
    if bool(validation_split) != (subset is not None):
        raise ValueError("If `subset` is set, `validation_split` must be set, and inversely.")
    if subset not in ("training", "validation", "both", None):
        raise ValueError(
            f"`subset` must be either 'training', 'validation' or 'both', received: {subset!r}"
        )
    if validation_split and shuffle and seed is None:
        raise ValueError(
            "If using `validation_split` and shuffling the data, you must provide a `seed` "
            "argument, to make sure that there is no overlap between the training and "
            "validation subset."
        )


def _list_files(root, formats, follow_links):
    """Sorted paths (under ``root``, subfolders included) of the files with one of ``formats``."""
    found = []
    for folder, _, files in os.walk(root, followlinks=follow_links):
        found.extend(os.path.join(folder, f) for f in files if f.lower().endswith(formats))
    return sorted(found)


def _index_directory(directory, labels, formats, class_names, follow_links):
    """(file paths, integer labels or None, class names) for ``directory``."""
    if not os.path.isdir(directory):
        raise ValueError(f"Could not find directory {directory!r}.")
    if not isinstance(labels, str):  # None or an explicit list
        paths = _list_files(directory, formats, follow_links)
        if labels is None:
            return paths, None, None
        if len(labels) != len(paths):
            raise ValueError(
                "Expected the lengths of `labels` to match the number of files in the target "
                f"directory. len(labels) is {len(labels)} while we found {len(paths)} files in "
                f"directory {directory!r}."
            )
        return paths, list(labels), None
    subdirs = sorted(d for d in os.listdir(directory) if os.path.isdir(os.path.join(directory, d)))
    if class_names is not None:
        if not set(class_names) <= set(subdirs):
            raise ValueError(
                "The `class_names` passed did not match the names of the subdirectories of the "
                f"target directory. Expected: {subdirs} (or a subset of it), but received: "
                f"class_names={list(class_names)}"
            )
        subdirs = list(class_names)
    paths, label_list = [], []
    for index, name in enumerate(subdirs):
        found = _list_files(os.path.join(directory, name), formats, follow_links)
        paths += found
        label_list += [index] * len(found)
    return paths, label_list, list(subdirs)


def dataset_from_directory(
    directory,
    formats,
    kind,
    load,
    labels,
    label_mode,
    class_names,
    batch_size,
    shuffle,
    seed,
    validation_split,
    subset,
    follow_links,
    verbose,
):
    """The shared indexing, splitting and batching of the two public loaders."""
    _check_arguments(
        labels, label_mode, class_names, batch_size, validation_split, subset, shuffle, seed
    )
    directory = os.fspath(directory)
    if labels is None:
        label_mode = None
    paths, label_list, class_names = _index_directory(
        directory, labels, formats, class_names, follow_links
    )
    if not paths:
        raise ValueError(f"No {kind} found in directory {directory!r}. Allowed formats: {formats}")
    num_classes = (
        len(class_names) if class_names is not None else (max(label_list) + 1 if label_list else 0)
    )
    if label_mode == "binary" and num_classes != 2:
        raise ValueError(
            "When passing `label_mode='binary'`, there must be exactly 2 class_names. "
            f"Received: class_names={class_names}"
        )
    if verbose:
        classes = f" belonging to {num_classes} classes" if label_list is not None else ""
        print(f"Found {len(paths)} files{classes}.")
    if shuffle and seed is None:
        seed = int(
            backend.to_numpy(backend.rng().integers(1 << 31))
        )  # reproducible under set_random_seed
    if shuffle:  # shuffle once before splitting, so both subsets mix every class
        order = host_xp.random.default_rng(seed).permutation(len(paths))
        paths = [paths[i] for i in order]
        label_list = None if label_list is None else [label_list[i] for i in order]

    def make(subset_name):
        chosen, chosen_labels = paths, label_list
        if validation_split:
            cut = len(paths) - int(validation_split * len(paths))
            part = slice(0, cut) if subset_name == "training" else slice(cut, None)
            chosen = paths[part]
            chosen_labels = None if label_list is None else label_list[part]
            if verbose:
                print(f"Using {len(chosen)} files for {subset_name}.")
        return DirectoryDataset(
            chosen,
            chosen_labels,
            class_names,
            label_mode,
            num_classes,
            batch_size,
            shuffle,
            seed,
            load,
        )

    if subset == "both":
        return make("training"), make("validation")
    return make(subset or "training")


def _image_loader(
    image_size, color_mode, interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio, channels_first
):
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            "image_dataset_from_directory reads images with Pillow: `pip install "
            "pillow` (or `pip install npkeras[images]`)."
        ) from None
    height, width = image_size
    resample = getattr(Image.Resampling, _INTERPOLATIONS[interpolation])
    mode = _COLOR_MODES[color_mode]

    def load(path):
        with Image.open(path) as image:
            image = image.convert(mode)
            w, h = image.size
            if crop_to_aspect_ratio:  # the largest centred window with the target ratio
                crop_w = min(w, round(h * width / height))
                crop_h = min(h, round(w * height / width))
                left, top = (w - crop_w) // 2, (h - crop_h) // 2
                image = image.crop((left, top, left + crop_w, top + crop_h))
            elif pad_to_aspect_ratio:  # centred on a black canvas with the target ratio
                pad_w = max(w, round(h * width / height))
                pad_h = max(h, round(w * height / width))
                canvas = Image.new(mode, (pad_w, pad_h))
                canvas.paste(image, ((pad_w - w) // 2, (pad_h - h) // 2))
                image = canvas
            if image.size != (width, height):
                image = image.resize((width, height), resample=resample)
            pixels = host_xp.asarray(image, dtype="float32")
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        return pixels.transpose(2, 0, 1) if channels_first else pixels

    return load


def image_dataset_from_directory(
    directory,
    labels="inferred",
    label_mode="int",
    class_names=None,
    color_mode="rgb",
    batch_size=32,
    image_size=(256, 256),
    shuffle=True,
    seed=None,
    validation_split=None,
    subset=None,
    interpolation="bilinear",
    follow_links=False,
    crop_to_aspect_ratio=False,
    pad_to_aspect_ratio=False,
    data_format=None,
    verbose=True,
):
    """Images from ``directory`` (one subfolder per class) as batches of NumPy arrays.

    Each batch is ``(images, labels)``: ``images`` float32 ``(batch, height, width,
    channels)`` with pixel values 0-255; ``labels`` int32 ``(batch,)`` for
    ``label_mode='int'``, one-hot float32 ``(batch, classes)`` for ``'categorical'``,
    float32 ``(batch, 1)`` for ``'binary'``. Arguments follow Keras 3:

    Args:
        directory: the folder; with ``labels='inferred'`` each subfolder is a class.
        labels: ``'inferred'``, None (images only) or a list of integer labels, one per
            file in sorted path order.
        label_mode: ``'int'``, ``'categorical'``, ``'binary'`` or None.
        class_names: explicit class order (subfolder names) with ``labels='inferred'``.
        color_mode: ``'grayscale'``, ``'rgb'`` or ``'rgba'`` (1, 3 or 4 channels).
        batch_size: images per batch; None yields single images.
        image_size: ``(height, width)`` every image is resized to.
        shuffle, seed: shuffle the files (before splitting) and each pass.
        validation_split, subset: hold out the last fraction of the (shuffled) files;
            ``subset`` is ``'training'``, ``'validation'`` or ``'both'`` (a pair).
        interpolation: ``'bilinear'``, ``'nearest'``, ``'bicubic'``, ``'area'``,
            ``'lanczos3'`` or ``'lanczos5'`` (Pillow's filters).
        follow_links: follow symbolic links to folders.
        crop_to_aspect_ratio, pad_to_aspect_ratio: keep the aspect ratio by centre crop
            or by black padding before resizing.
        data_format: ``'channels_last'`` (default) or ``'channels_first'``.
        verbose: print how many files were found and used.

    >>> import os, tempfile
    >>> from PIL import Image
    >>> root = tempfile.mkdtemp()
    >>> for name in ("cats", "dogs"):
    ...     os.mkdir(os.path.join(root, name))
    ...     Image.new("RGB", (8, 6)).save(os.path.join(root, name, "a.png"))
    >>> ds = image_dataset_from_directory(root, image_size=(4, 4), batch_size=2, shuffle=False)
    Found 2 files belonging to 2 classes.
    >>> images, labels = next(iter(ds))
    >>> images.shape, labels.tolist(), ds.class_names
    ((2, 4, 4, 3), [0, 1], ['cats', 'dogs'])
    """
    if color_mode not in _COLOR_MODES:
        raise ValueError(
            f"`color_mode` must be one of {list(_COLOR_MODES)}. Received: color_mode={color_mode!r}"
        )
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(
            f"`interpolation` must be one of {list(_INTERPOLATIONS)}. Received: "
            f"interpolation={interpolation!r}"
        )
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError(
            "Only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio` can be True."
        )
    if data_format not in (None, "channels_last", "channels_first"):
        raise ValueError(
            "`data_format` must be 'channels_last' or 'channels_first'. Received: "
            f"data_format={data_format!r}"
        )
    size = tuple(image_size)
    if len(size) != 2 or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in size):
        raise ValueError(
            "`image_size` must be a pair of positive integers (height, width). "
            f"Received: image_size={image_size!r}"
        )
    load = _image_loader(
        size,
        color_mode,
        interpolation,
        crop_to_aspect_ratio,
        pad_to_aspect_ratio,
        data_format == "channels_first",
    )
    return dataset_from_directory(
        directory,
        IMAGE_FORMATS,
        "images",
        load,
        labels,
        label_mode,
        class_names,
        batch_size,
        shuffle,
        seed,
        validation_split,
        subset,
        follow_links,
        verbose,
    )


def text_dataset_from_directory(
    directory,
    labels="inferred",
    label_mode="int",
    class_names=None,
    batch_size=32,
    max_length=None,
    shuffle=True,
    seed=None,
    validation_split=None,
    subset=None,
    follow_links=False,
    verbose=True,
):
    """Text files (``.txt``) from ``directory`` as batches of NumPy string arrays.

    Each batch is ``(texts, labels)`` with ``texts`` a ``(batch,)`` array of ``str``
    (UTF-8 decoded, cut to ``max_length`` characters when given) and labels as in
    :func:`image_dataset_from_directory`, whose other arguments this shares.

    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> for name, text in (("neg", "awful"), ("pos", "great")):
    ...     os.mkdir(os.path.join(root, name))
    ...     with open(os.path.join(root, name, "review.txt"), "w") as f:
    ...         _ = f.write(text)
    >>> ds = text_dataset_from_directory(root, shuffle=False, verbose=False)
    >>> texts, labels = next(iter(ds))
    >>> texts.tolist(), labels.tolist()
    (['awful', 'great'], [0, 1])
    """
    if max_length is not None and (
        isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1
    ):
        raise ValueError(
            f"`max_length` must be a positive integer or None. Received: max_length={max_length!r}"
        )

    def load(path):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        return text if max_length is None else text[:max_length]

    return dataset_from_directory(
        directory,
        TEXT_FORMATS,
        "text files",
        load,
        labels,
        label_mode,
        class_names,
        batch_size,
        shuffle,
        seed,
        validation_split,
        subset,
        follow_links,
        verbose,
    )
