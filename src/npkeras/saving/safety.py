"""Reading a model file without trusting it: bounded sizes, safe member names,
checksums, bounded JSON nesting and pickle-free arrays whose headers are checked
against their real sizes before anything is allocated.

Every refusal is a :class:`ModelFileError` (a ``ValueError``); the limits are the
fields of :class:`LoadLimits`, which every loader takes as ``limits=``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import struct
import tokenize
import zipfile
import zlib

from npkeras import backend
from npkeras.backend import host_xp
from npkeras.errors import ModelFileError, UnsafeModelFileError


class ChecksumMismatchError(ModelFileError):
    """A member's bytes differ from the SHA-256 recorded when it was saved."""


class UnsupportedFormatVersionError(ModelFileError):
    """The file was written by a newer npkeras with a format this one cannot read."""


# What zipfile, zlib and struct raise on a damaged archive (beside ModelFileError).
ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    zlib.error,
    struct.error,
    ValueError,
    OverflowError,
    RuntimeError,
    NotImplementedError,
    KeyError,
    IndexError,
    TypeError,
)
# What numpy's .npy header parser adds (it reads the header as a Python literal).
HEADER_ERRORS = (*ARCHIVE_ERRORS, SyntaxError, tokenize.TokenError, RecursionError)


@dataclasses.dataclass(frozen=True)
class LoadLimits:
    """Bounds on what reading one model file may cost; every loader takes ``limits=``.

    Args:
        max_member_bytes: largest declared uncompressed size of an array archive
            (``weights.npz``, ``optimizer.npz``, a ``.weights.npz`` file) and of each
            array in it. Default 2 GiB.
        max_json_bytes: largest declared size of ``config.json`` or ``metadata.json``,
            refused before inflating. Default 16 MiB (a 1,000-layer config is ~1 MB).
        max_json_depth: deepest nesting of a JSON document. Default 100.
        max_arrays: most arrays in one ``.npz`` archive. Default 100,000.
        max_layers: most layers in a model, nested models' layers included. Default
            10,000 (large Keras applications have about 1,000).

    The weights a config asks for are bounded by the file itself: building the model
    may create no more values than ``weights.npz`` stores.

    >>> LoadLimits(max_json_bytes=1024).max_json_bytes
    1024
    """

    max_member_bytes: int = 2 * 1024**3
    max_json_bytes: int = 16 * 1024**2
    max_json_depth: int = 100
    max_arrays: int = 100_000
    max_layers: int = 10_000

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if type(value) is not int or value < 1:
                raise ValueError(
                    f"LoadLimits.{field.name} must be a positive integer; "
                    f"received {field.name}={value!r}."
                )


DEFAULT_LIMITS = LoadLimits()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_member_names(zf: zipfile.ZipFile, allowed, path) -> None:
    names = zf.namelist()
    if len(names) != len(set(names)):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise UnsafeModelFileError(
            f"'{path}' holds member(s) {', '.join(map(repr, twice))} more than once; a model "
            "file holds each member once."
        )
    for name in names:
        if (
            name.startswith(("/", "\\"))
            or ".." in name.replace("\\", "/").split("/")
            or ":" in name
        ):
            raise UnsafeModelFileError(
                f"'{path}' holds a member with an unsafe path {name!r} (absolute or with '..'); "
                "refusing to read it."
            )
        if name not in allowed:
            raise UnsafeModelFileError(
                f"'{path}' holds an unexpected member {name!r}; a model file holds only "
                f"{', '.join(sorted(allowed))}."
            )


def check_member_sizes(info: zipfile.ZipInfo, archive_size: int, limit: int, what: str) -> None:
    """Refuse a member declaring more than ``limit`` bytes uncompressed, or more compressed
    bytes than the archive holds (Python would allocate a buffer of that size to read it).
    zipfile never inflates past the declared size: a member that lies about it fails its
    CRC check instead."""
    if info.file_size > limit:
        raise UnsafeModelFileError(
            f"{what} declares {info.file_size:,} bytes uncompressed, over the limit of {limit:,}; "
            "refusing to inflate it."
        )
    if info.header_offset + info.compress_size > archive_size:
        raise ModelFileError(
            f"{what} declares {info.compress_size:,} compressed bytes, more than the "
            f"{archive_size:,}-byte archive holds: it is truncated or corrupt."
        )


def read_member(zf: zipfile.ZipFile, name: str, path, limit: int, archive_size: int) -> bytes:
    """A member's bytes, its declared sizes checked first (:func:`check_member_sizes`)."""
    info = zf.getinfo(name)
    check_member_sizes(info, archive_size, limit, f"Member {name!r} of '{path}'")
    try:
        return zf.read(info)
    except ARCHIVE_ERRORS as err:
        raise ModelFileError(f"'{path}' is truncated or corrupt: member {name!r}: {err}") from None


def _json_depth(text: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def parse_json(data: bytes, what: str, limits: LoadLimits = DEFAULT_LIMITS):
    """JSON from untrusted bytes: bounded size and nesting depth."""
    if len(data) > limits.max_json_bytes:
        raise UnsafeModelFileError(
            f"{what} is {len(data):,} bytes, over the {limits.max_json_bytes:,} limit."
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFileError(f"{what} is not UTF-8 text.") from None
    depth = _json_depth(text)
    if depth > limits.max_json_depth:
        raise UnsafeModelFileError(
            f"{what} nests {depth} levels deep, over the limit of {limits.max_json_depth}."
        )
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as err:
        raise ModelFileError(f"{what} is not valid JSON: {err}") from None


def _read_npy(f, size: int, what: str):
    """One ``.npy`` array from the open member ``f`` of ``size`` bytes. The header's
    dtype and shape are checked, and the bytes they declare compared with the bytes the
    member really has, before the array is allocated."""
    fmt = host_xp.lib.format
    try:
        version = fmt.read_magic(f)
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        if version not in ((1, 0), (2, 0), (3, 0)):
            raise ValueError(f"unknown .npy version {version}")
        shape, fortran_order, dtype = read_header(f)
        header_bytes = f.tell()
    except HEADER_ERRORS as err:
        raise ModelFileError(f"{what} has an unreadable .npy header: {err}") from None
    if dtype.hasobject or dtype.kind not in "biuf":
        raise UnsafeModelFileError(f"{what} has dtype {dtype}; only numeric arrays are allowed.")
    if any(type(d) is not int or d < 0 for d in shape):
        raise ModelFileError(f"{what} declares an invalid shape {shape}.")
    declared = math.prod(shape) * dtype.itemsize
    if declared != size - header_bytes:
        raise UnsafeModelFileError(
            f"{what} declares shape {shape} of {dtype} ({declared:,} bytes) but holds "
            f"{size - header_bytes:,} bytes of data; refusing to allocate it."
        )
    data = f.read(declared)
    if len(data) != declared:
        raise ModelFileError(f"{what} is truncated: {len(data):,} of {declared:,} bytes.")
    order = "F" if fortran_order else "C"
    return backend.host_xp.frombuffer(data, dtype=dtype).reshape(shape, order=order)


def load_arrays(data: bytes, what: str, limits: LoadLimits = DEFAULT_LIMITS) -> dict:
    """{name: array} from ``.npz`` bytes, without pickle, each array's header checked
    against its real size before it is allocated."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as inner:
            infos = inner.infolist()
            if len(infos) > limits.max_arrays:
                raise UnsafeModelFileError(
                    f"{what} holds {len(infos):,} arrays, over the limit of {limits.max_arrays:,}."
                )
            names = [info.filename for info in infos]
            if len(set(names)) != len(names):
                raise UnsafeModelFileError(f"{what} holds the same array name more than once.")
            arrays = {}
            for info in infos:
                if not info.filename.endswith(".npy"):
                    raise UnsafeModelFileError(
                        f"{what} holds {info.filename!r}, which is not a .npy array."
                    )
                key = info.filename[: -len(".npy")]
                check_member_sizes(
                    info, len(data), limits.max_member_bytes, f"Array {key!r} of {what}"
                )
                with inner.open(info) as f:
                    arrays[key] = _read_npy(f, info.file_size, f"Array {key!r} of {what}")
            return arrays
    except ModelFileError:
        raise
    except ARCHIVE_ERRORS as err:
        raise UnsafeModelFileError(
            f"{what} could not be read as plain numeric arrays: {err}"
        ) from None


def stored_size(arrays: dict) -> int:
    """How many values ``arrays`` hold in all."""
    return sum(math.prod(a.shape) for a in arrays.values())
