"""Saving and loading: atomic saves (a crash mid-save leaves the old file and no temporary), and
loads that check names, shapes and dtypes and change nothing when anything is wrong."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

import graphgrad as gg


def params(scale: float = 1.0) -> dict[str, gg.SharedVariable]:
    return {"W": gg.shared(np.arange(6, dtype="float32").reshape(2, 3) * scale, name="W"),
            "b": gg.shared(np.full(3, scale, "float64"), name="b")}


def values(ps: dict[str, gg.SharedVariable]) -> dict[str, np.ndarray]:
    return {name: p.get_value() for name, p in ps.items()}


def assert_unchanged(ps: dict[str, gg.SharedVariable], before: dict[str, np.ndarray]) -> None:
    for name, p in ps.items():
        assert p.get_value().dtype == before[name].dtype
        np.testing.assert_array_equal(p.get_value(), before[name])


def test_save_then_load_round_trips_values_and_dtypes(tmp_path: Path) -> None:
    gg.save(tmp_path / "model.npz", params(2.0))
    target = params(0.0)
    gg.load(tmp_path / "model.npz", target)
    assert_unchanged(target, values(params(2.0)))
    assert os.listdir(tmp_path) == ["model.npz"]


def test_saved_file_gets_the_usual_permissions(tmp_path: Path) -> None:
    gg.save(tmp_path / "model.npz", params())
    np.save(tmp_path / "plain.npy", np.ones(1))
    mode = stat.S_IMODE((tmp_path / "model.npz").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.npy").stat().st_mode)


@pytest.mark.parametrize("crash", [OSError("disk full"), KeyboardInterrupt()])
def test_a_crash_mid_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     crash: BaseException) -> None:
    path = tmp_path / "model.npz"
    gg.save(path, params(1.0))
    original = path.read_bytes()

    def partial_savez(stream, **arrays) -> None:  # noqa: ANN001, ANN003
        stream.write(b"PK\x03\x04 half an archive")
        raise crash

    monkeypatch.setattr(np, "savez", partial_savez)
    with pytest.raises(type(crash)):
        gg.save(path, params(5.0))
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["model.npz"]
    monkeypatch.undo()
    loaded = params(0.0)
    gg.load(path, loaded)
    assert_unchanged(loaded, values(params(1.0)))


def test_saving_objects_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(gg.InputTypeError, match="'bad'"):
        gg.save_arrays(tmp_path / "model.npz", {"good": np.ones(2), "bad": np.array([{}], dtype=object)})
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("stored, error, message", [
    ({"W": np.zeros((2, 3), "float32")}, gg.InputTypeError, "no arrays \\['b'\\]"),
    ({"W": np.zeros((2, 3), "float32"), "b": np.zeros(3, "float32")}, gg.InputTypeError, "'b' is float32"),
    ({"W": np.zeros((3, 2), "float32"), "b": np.zeros(3)}, gg.ShapeError, "'W' has shape \\(3, 2\\)"),
    ({"W": np.zeros((2, 3), "float32"), "b": np.zeros(4)}, gg.ShapeError, "'b' has shape \\(4,\\)"),
])
def test_load_checks_names_dtypes_and_shapes_and_changes_nothing(tmp_path: Path, stored: dict, error: type,
                                                                 message: str) -> None:
    path = tmp_path / "model.npz"
    gg.save_arrays(path, stored)
    target = params(7.0)
    before = values(target)
    with pytest.raises(error, match=message):
        gg.load(path, target)
    assert_unchanged(target, before)


def write_npy(path: Path) -> None:
    with open(path, "wb") as stream:
        np.save(stream, np.ones(3))


def write_truncated(path: Path) -> None:
    gg.save(path, params())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def write_pickled(path: Path) -> None:
    np.savez(path, W=np.array([{}, 1], dtype=object))


def write_text(path: Path) -> None:
    path.write_text("not an archive")


@pytest.mark.parametrize("write", [write_npy, write_truncated, write_pickled, write_text])
def test_load_of_a_bad_file_raises_naming_it_and_changes_nothing(tmp_path: Path, write) -> None:  # noqa: ANN001
    path = tmp_path / "model.npz"
    write(path)
    target = params(3.0)
    before = values(target)
    with pytest.raises(gg.InputTypeError, match="model.npz"):
        gg.load(path, target)
    assert_unchanged(target, before)


def test_load_of_a_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        gg.load(tmp_path / "nothing.npz", params())
