"""Saving and loading parameters as ``.npz`` (never pickle), atomically."""
from __future__ import annotations

import os
import secrets
import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np

from .graph import SharedVariable
from .types import InputTypeError, ShapeError


def save_arrays(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` as ``.npz``: to a temporary file first, then renamed over the
    target, so a crash mid-save never leaves a corrupt file where a good one was."""
    path = Path(path)
    for name, array in arrays.items():
        if np.asarray(array).dtype.kind not in "biufU":
            raise InputTypeError(f"save: array {name!r} has dtype {np.asarray(array).dtype}; only numbers and "
                                 "strings are saved (no pickled objects)")
    temporary = path.parent / f"{path.name}.{secrets.token_hex(4)}.tmp"
    # os.open with mode 0o666 lets the umask decide, as for any new file (mkstemp would make it 0o600).
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **{name: np.asarray(a) for name, a in arrays.items()})
            stream.flush()
            os.fsync(stream.fileno())  # the data must be on disk before the rename makes it the model
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def load_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` file (``allow_pickle=False``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load: no file {path}")
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError(f"it holds a single {type(data).__name__}, not an archive of named arrays")
        with data:
            return {name: data[name] for name in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise InputTypeError(f"load: {path} is not a readable .npz file of arrays: {error}") from None


def save(path: str | os.PathLike, params: Mapping[str, SharedVariable]) -> None:
    """Save shared variables' values under their keys, atomically."""
    save_arrays(path, {name: p.get_value(borrow=True) for name, p in params.items()})


def load(path: str | os.PathLike, params: Mapping[str, SharedVariable]) -> None:
    """Load values saved by ``save`` into ``params``. Names, shapes and dtypes are all checked
    before any variable changes."""
    arrays = load_arrays(path)
    missing = sorted(set(params) - set(arrays))
    if missing:
        raise InputTypeError(f"load: {path} has no arrays {missing} (it has {sorted(arrays)})")
    for name, p in params.items():
        array = arrays[name]
        if array.dtype != p.dtype:
            raise InputTypeError(f"load: {path}: {name!r} is {array.dtype}, parameter {p.label()} is {p.dtype}")
        if not p.type.is_compatible(array.shape):
            raise ShapeError(f"load: {path}: {name!r} has shape {array.shape}, parameter {p.label()} expects "
                             f"{p.type.shape}")
    for name, p in params.items():
        p.set_value(arrays[name], borrow=True)
