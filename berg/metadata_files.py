"""A model's metadata file in a BERG folder: found, and read without running its pickle.

The original BERG package keeps each model's metadata beside its weights, in
``<model folder>/metadata/metadata_sub-XX.npy``: a Python dict saved with ``np.save`` and
read back with ``np.load(path, allow_pickle=True).item()``. Such a file is a pickle, and
unpickling runs whatever callables the file names; a BERG folder copied from elsewhere must
not be able to run code on the user's machine just because berg reads its metadata. So the
``.npy`` header is parsed with :mod:`numpy.lib.format`, and the payload is unpickled by an
unpickler that can build numpy arrays and plain containers and nothing else.
"""

from __future__ import annotations

import codecs
import collections
import io
import json
import os
import pickle
from collections.abc import Iterable
from pathlib import Path, PurePath
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from berg.errors import MetadataError

__all__ = ["METADATA_NAMES", "find_metadata_file", "read_metadata_file"]

# In order of preference. TRIBE v2 predicts for the average subject, so a subject file is
# only taken when it is the one file there (see find_metadata_file).
METADATA_NAMES = (
    "metadata.npy",
    "metadata.json",
    "metadata_sub-average.npy",
    "metadata_sub-average.json",
)


def find_metadata_file(
    berg_dir: str | os.PathLike, folders: Iterable[str | PurePath]
) -> Path | None:
    """The metadata file of a model in a BERG folder, or None.

    Parameters
    ----------
    berg_dir : path
        The BERG directory.
    folders : iterable of path
        The model's folders relative to ``berg_dir``, in order (the card's
        ``weights.berg_path``, then ``weights.also_in``); each one's ``metadata/`` is
        looked in.

    Returns
    -------
    Path or None
        In the first ``metadata/`` that holds one: the first of :data:`METADATA_NAMES`
        present, else its only ``metadata_sub-*.npy``. None when no folder holds one.

    Raises
    ------
    MetadataError
        A ``metadata/`` holds several subject files and none of the names above: which
        subject berg predicts for (the average) is not among them.
    """
    root = Path(berg_dir).expanduser()
    for relative in folders:
        folder = root / relative / "metadata"
        if not folder.is_dir():
            continue
        for name in METADATA_NAMES:
            if (folder / name).is_file():
                return folder / name
        subjects = sorted(p for p in folder.glob("metadata_sub-*.npy") if p.is_file())
        if len(subjects) == 1:
            return subjects[0]
        if subjects:
            raise MetadataError(
                f"{folder} holds metadata of several subjects "
                f"({', '.join(p.name for p in subjects)}) and none of the average subject "
                f"TRIBE v2 predicts for; keep one of them, or add "
                f"{' or '.join(METADATA_NAMES)}"
            )
    return None


def read_metadata_file(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata dictionary in ``path``, a ``.npy`` (as BERG saves it) or ``.json`` file.

    A ``.npy`` file's pickle may build numpy arrays, dtypes and scalars and the builtin
    containers only; it is never executed beyond that.

    Parameters
    ----------
    path : path
        The file.

    Returns
    -------
    dict
        A fresh dictionary (and fresh arrays) on every call.

    Raises
    ------
    MetadataError
        The file cannot be read, names a callable outside that list (the message names it),
        holds a plain array, or holds anything but a dictionary.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise MetadataError(f"cannot read the metadata file {path}: {error}") from error
    if path.suffix.lower() == ".json":
        value = _read_json(path, data)
    else:
        value = _read_npy(path, data)
    if not isinstance(value, dict):
        raise MetadataError(
            f"the metadata file {path} holds a {type(value).__name__}, not a metadata "
            f"dictionary (BERG saves a dict with np.save)"
        )
    return value


def _read_json(path: Path, data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MetadataError(f"the metadata file {path} is not valid JSON: {error}") from error


def _read_npy(path: Path, data: bytes) -> Any:
    stream = io.BytesIO(data)
    try:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = npy_format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, _, dtype = npy_format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"format version {version[0]}.{version[1]} is not supported")
    except ValueError as error:
        raise MetadataError(
            f"the metadata file {path} is not a readable .npy file: {error}"
        ) from error
    if dtype != np.dtype(object):
        # Numbers alone say nothing about what they describe: BERG's metadata is a dict.
        raise MetadataError(
            f"the metadata file {path} holds a plain {dtype} array of shape {shape}, not a "
            f"metadata dictionary (BERG saves a dict with np.save(..., allow_pickle=True))"
        )
    try:
        array = _NumpyOnlyUnpickler(stream, path).load()
    except MetadataError:
        raise
    except Exception as error:  # a damaged pickle fails in many ways; all mean the same
        raise MetadataError(
            f"the metadata file {path} holds a damaged pickle: {type(error).__name__}: {error}"
        ) from error
    if not isinstance(array, np.ndarray) or array.size != 1:
        raise MetadataError(
            f"the metadata file {path} holds {_kind(array)}, not one metadata dictionary"
        )
    return array.reshape(-1)[0]


def _kind(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return f"a {type(value).__name__}"


def _allowed_globals() -> dict[tuple[str, str], Any]:
    """What a pickled numpy array of plain containers needs, and nothing more.

    The objects are taken from numpy here rather than imported by the names the file gives,
    so a file from numpy 1 (``numpy.core``) and one from numpy 2 (``numpy._core``) both
    resolve to this numpy's functions.
    """
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy 1
        from numpy.core import multiarray, numeric
    numpy_functions = {
        "multiarray": {"_reconstruct": multiarray._reconstruct, "scalar": multiarray.scalar},
        "numeric": {"_frombuffer": numeric._frombuffer},
    }
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        # Protocol 2 pickles spell bytes as _codecs.encode(text, 'latin1').
        ("_codecs", "encode"): codecs.encode,
    }
    for core in ("numpy.core", "numpy._core"):
        for module, functions in numpy_functions.items():
            for name, function in functions.items():
                allowed[(f"{core}.{module}", name)] = function
    for builtin in (
        dict,
        list,
        tuple,
        set,
        frozenset,
        slice,
        range,
        complex,
        int,
        float,
        bool,
        str,
        bytes,
        bytearray,
    ):
        allowed[("builtins", builtin.__name__)] = builtin
    allowed[("collections", "OrderedDict")] = collections.OrderedDict
    return allowed


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler whose pickles may call only :func:`_allowed_globals`."""

    def __init__(self, stream: io.BytesIO, path: Path):
        super().__init__(stream)
        self._path = path
        self._allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise MetadataError(
                f"the metadata file {self._path} names {module}.{name}, which a metadata "
                f"file has no use for; berg does not unpickle it (a file that names other "
                f"callables than numpy's array builders and the builtin containers could "
                f"run code). Remove the file, or save a plain dict of numbers, strings and "
                f"arrays"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise MetadataError(f"the metadata file {self._path} refers to outside objects ({pid!r})")
