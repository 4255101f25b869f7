"""Opening a ``.npkeras`` file for loading: every member bounded, checksummed, parsed and
checked against its schema before the model code sees any of it."""

from __future__ import annotations

import contextlib
import os
import zipfile
from typing import NamedTuple

from npkeras.backend import host_xp
from npkeras.errors import BAD_VALUE_ERRORS
from npkeras.saving import safety, schema
from npkeras.saving.safety import ModelFileError

FORMAT_VERSION = 1
READABLE_FORMAT_VERSIONS = (1,)
MEMBERS = ("config.json", "weights.npz", "optimizer.npz", "metadata.json")
REQUIRED_MEMBERS = ("config.json", "weights.npz", "metadata.json")


class ModelFile(NamedTuple):
    config: dict
    weights: dict
    optimizer_state: dict | None
    metadata: dict


@contextlib.contextmanager
def refusing(what: str, also: tuple = ()):
    """Inside the block, whatever a bad value makes the code raise (``BAD_VALUE_ERRORS``
    and ``also``) becomes a ``ModelFileError`` starting with ``what``."""
    try:
        yield
    except ModelFileError:
        raise
    except BAD_VALUE_ERRORS + also as err:
        raise ModelFileError(f"{what} cannot be used: {type(err).__name__}: {err}") from err


def check_schema(value, spec: schema.Spec, what: str, root: str) -> None:
    try:
        spec.check(value, root)
    except schema.SchemaError as err:
        raise ModelFileError(f"{what} is malformed: {err}.") from None


def check_regular_file(filepath, kind: str = "model") -> str:
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No {kind} file at '{filepath}'.")
    if os.path.isdir(filepath):
        raise IsADirectoryError(f"'{filepath}' is a directory, not a {kind} file.")
    if not os.path.isfile(filepath):
        raise ModelFileError(f"'{filepath}' is not a regular file (a device, pipe or socket).")
    return filepath


def _read_members(filepath: str, limits: safety.LoadLimits) -> dict:
    with open(filepath, "rb") as f:  # PermissionError names the path
        try:
            zf = zipfile.ZipFile(f)
        except safety.ARCHIVE_ERRORS:
            raise ModelFileError(
                f"'{filepath}' is not an npkeras model file, or it is truncated or corrupt "
                "(not a readable zip archive)."
            ) from None
        with zf:
            safety.check_member_names(zf, MEMBERS, filepath)
            names = set(zf.namelist())
            for needed in REQUIRED_MEMBERS:
                if needed not in names:
                    raise ModelFileError(
                        f"'{filepath}' has no {needed}: it is not a complete model file."
                    )
            size = os.fstat(f.fileno()).st_size
            return {
                name: safety.read_member(
                    zf,
                    name,
                    filepath,
                    limits.max_json_bytes if name.endswith(".json") else limits.max_member_bytes,
                    size,
                )
                for name in MEMBERS
                if name in names
            }


def _check_metadata(raw: dict, filepath: str, limits: safety.LoadLimits) -> dict:
    what = f"metadata.json of '{filepath}'"
    metadata = safety.parse_json(raw["metadata.json"], what, limits)
    if not isinstance(metadata, dict) or metadata.get("format") != "npkeras":
        raise ModelFileError(f"'{filepath}' is not an npkeras model file (bad metadata.json).")
    version = metadata.get("format_version")
    if type(version) is not int or version not in READABLE_FORMAT_VERSIONS:
        newer = type(version) is int and version > FORMAT_VERSION
        raise safety.UnsupportedFormatVersionError(
            f"'{filepath}' uses model file format version {version!r}; this npkeras reads "
            f"version {', '.join(map(str, READABLE_FORMAT_VERSIONS))}."
            + (" Upgrade npkeras to load it." if newer else " The file is damaged or altered.")
        )
    checked = tuple(name for name in MEMBERS if name in raw and name != "metadata.json")
    check_schema(
        metadata, schema.metadata_spec(checked, READABLE_FORMAT_VERSIONS), what, "metadata"
    )
    for name in checked:
        if metadata["sha256"].get(name) != safety.sha256(raw[name]):
            raise safety.ChecksumMismatchError(
                f"Member {name} of '{filepath}' does not match the SHA-256 recorded when it was "
                "saved: the file is damaged or was altered."
            )
    return metadata


def _count_layers(entry: dict) -> int:
    """Layers in a schema-checked layer entry, counting those of nested models."""
    inner = entry["config"]["layers"] if entry["class_name"] in ("Sequential", "Functional") else []
    return 1 + sum(_count_layers(e) for e in inner)


def check_finite(arrays: dict, what: str) -> None:
    """Refuse NaN or infinite values: loading them would corrupt the model silently."""
    for key, value in arrays.items():
        if value.dtype.kind == "f" and not host_xp.isfinite(value).all():
            raise ModelFileError(f"Array {key!r} of {what} holds NaN or infinite values.")


def _add_normalization_counts(weights: dict) -> None:
    """Files written before Normalization kept Keras's (unused) sample ``count`` beside its
    ``mean`` and ``variance`` lack it: it reads as 0, so those files load as they did."""
    for key in list(weights):
        prefix, _, name = key.rpartition("/")
        layer = prefix.rpartition("/")[2]
        is_normalization = layer == "normalization" or (
            layer.startswith("normalization_") and layer[len("normalization_"):].isdigit()
        )
        if is_normalization and name == "mean" and f"{prefix}/count" not in weights:
            weights[f"{prefix}/count"] = host_xp.zeros((), "int32")


def open_model_file(filepath, limits: safety.LoadLimits | None = None) -> ModelFile:
    """The verified parts of the model file at ``filepath`` (see :class:`LoadLimits`)."""
    limits = limits or safety.DEFAULT_LIMITS
    filepath = check_regular_file(filepath)
    raw = _read_members(filepath, limits)
    metadata = _check_metadata(raw, filepath, limits)
    what = f"config.json of '{filepath}'"
    config = safety.parse_json(raw["config.json"], what, limits)
    check_schema(config, schema.CONFIG, what, "config")
    layers = _count_layers(config["model"])
    if layers > limits.max_layers:
        raise safety.UnsafeModelFileError(
            f"{what} describes {layers:,} layers, over the limit of {limits.max_layers:,}."
        )
    weights = safety.load_arrays(raw.pop("weights.npz"), f"weights.npz of '{filepath}'", limits)
    check_finite(weights, f"weights.npz of '{filepath}'")
    _add_normalization_counts(weights)
    opt_state = None
    if "optimizer.npz" in raw:
        what = f"optimizer.npz of '{filepath}'"
        opt_state = safety.load_arrays(raw.pop("optimizer.npz"), what, limits)
        check_finite(opt_state, what)
    return ModelFile(config, weights, opt_state, metadata)
