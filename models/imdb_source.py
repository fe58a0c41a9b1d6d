"""Where the IMDB reviews are and how to read them, in each of their official forms.

- ``aclImdb_v1.tar.gz``, read member by member straight from the archive (no extraction);
- the extracted ``aclImdb/`` folder;
- both hold ``aclImdb/{train,test}/{pos,neg}/ID_RATING.txt``; ``unsup/``, url lists etc. are
  ignored; files are decoded as strict UTF-8;
- Trask's ``reviews.txt`` + ``labels.txt`` (one review / one ``positive``|``negative`` per line);
  the last 1,000 lines are the test split, the others (24,000) the training split.

Where the data comes from (``resolve_data_path``): an explicit path (``--data``), else
``$GRAPHGRAD_DATA``, else ``aclImdb_v1.tar.gz``, ``aclImdb.tar.gz`` or ``aclImdb/`` in the cache
folder (``$GRAPHGRAD_CACHE``, default ``~/.cache/graphgrad``), else the official tarball is
downloaded into the cache folder.
"""
from __future__ import annotations

import gzip
import os
import re
import tarfile
import tempfile
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, NamedTuple

from tqdm import tqdm

URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
DATA_ENV = "GRAPHGRAD_DATA"
CACHE_ENV = "GRAPHGRAD_CACHE"
CACHE_NAMES = ("aclImdb_v1.tar.gz", "aclImdb.tar.gz", "aclImdb")
SPLITS = ("train", "test")
TRASK_TEST_SIZE = 1000

_LAYOUT = "aclImdb/{train,test}/{pos,neg}/ID_RATING.txt"
_MEMBER = re.compile(r"(?:.*/)?(train|test)/(pos|neg)/(\d+)_\d+\.txt")
_LABELS = {"neg": 0, "pos": 1}
_TRASK_LABELS = {"negative": 0, "positive": 1}


class DataFormatError(ValueError):
    """The data exists but is not laid out or encoded as expected."""


class Review(NamedTuple):
    """One labeled review as read from the source."""

    split: str
    label: int  # 1 positive, 0 negative
    number: int  # the ID of ID_RATING.txt, or the line number in reviews.txt (from 0)
    text: str


class Source(NamedTuple):
    """A located data set: which reader applies, and what identifies its contents."""

    kind: str  # "tarball", "folder" or "trask"
    root: Path
    identity: list[Path]  # the paths whose size and modification time identify the data


def default_cache_dir() -> Path:
    """``$GRAPHGRAD_CACHE``, else ``~/.cache/graphgrad``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "graphgrad")


def write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Create ``path`` with ``write(file)`` into a temporary file beside it, then rename it over
    ``path``, so that no reader (or interrupted run) ever sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def download_file(url: str, destination: Path, *, progress: bool = True) -> None:
    """Download ``url`` to ``destination`` with a progress bar; raises ``OSError`` on failure."""
    def write(out: BinaryIO) -> None:
        with urllib.request.urlopen(url, timeout=60) as response:
            size = response.headers.get("Content-Length")
            total = int(size) if size else None
            received = 0  # not bar.n: a disabled bar counts nothing
            with tqdm(total=total, unit="B", unit_scale=True, disable=not progress,
                      desc=f"downloading {destination.name}") as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            if total is not None and received != total:
                raise OSError(f"{url}: download truncated at {received} of {total} bytes")
    write_atomically(destination, write)


def resolve_data_path(data: str | os.PathLike | None = None, *,
                      cache_dir: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """Where the data is: ``data``, else ``$GRAPHGRAD_DATA``, else the cache, else downloaded."""
    for given, origin in ((data, "the data path (--data)"), (os.environ.get(DATA_ENV), DATA_ENV)):
        if given:
            path = Path(given).expanduser()
            if not path.exists():
                raise FileNotFoundError(f"{path}: no such file or folder (given by {origin})")
            return path
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    for name in CACHE_NAMES:
        if (cache_dir / name).exists():
            return cache_dir / name
    destination = cache_dir / CACHE_NAMES[0]
    try:
        download_file(URL, destination, progress=progress)
    except OSError as exc:
        raise FileNotFoundError(
            f"IMDB data not found: no --data PATH, no ${DATA_ENV}, none of "
            f"{', '.join(CACHE_NAMES)} in {cache_dir}, and downloading {URL} failed ({exc}). "
            f"Point at a copy with --data PATH or {DATA_ENV}=PATH (aclImdb_v1.tar.gz, an extracted "
            f"aclImdb/ folder, or a folder with reviews.txt and labels.txt), or put "
            f"aclImdb_v1.tar.gz in {cache_dir}.") from exc
    return destination


def locate(path: Path) -> Source:
    """What kind of source ``path`` is; raises ``DataFormatError`` if it is none."""
    if path.is_dir() and (path / "aclImdb").is_dir() and not (path / "train").exists():
        path = path / "aclImdb"
    if path.is_dir() and ((path / "train").exists() or (path / "test").exists()):
        folders = [path / split / label for split in SPLITS for label in ("neg", "pos")]
        for folder in folders:
            if not folder.is_dir():
                raise DataFormatError(f"{folder}: missing (expected {_LAYOUT})")
        return Source("folder", path, folders)
    if path.name in ("reviews.txt", "labels.txt"):
        path = path.parent
    if path.is_dir() and ((path / "reviews.txt").exists() or (path / "labels.txt").exists()):
        files = [path / "reviews.txt", path / "labels.txt"]
        for file in files:
            if not file.is_file():
                raise FileNotFoundError(f"{file}: missing (reviews.txt and labels.txt go together)")
        return Source("trask", path, files)
    if path.is_file() and path.name.endswith((".tar.gz", ".tgz")):
        return Source("tarball", path, [path])
    raise DataFormatError(f"{path}: expected aclImdb_v1.tar.gz, an extracted aclImdb/ folder "
                          f"({_LAYOUT}), or a folder with reviews.txt and labels.txt")


def _decode(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{name}: not valid UTF-8 (byte {exc.start}: {exc.reason})") from None


def _review(name: str, match: re.Match, data: bytes) -> Review:
    text = _decode(name, data)
    if not text.strip():
        raise DataFormatError(f"{name}: empty review (expected the text of a review)")
    split, label, number = match.groups()
    return Review(split, _LABELS[label], int(number), text)


def _check_complete(reviews: list[Review], source: Path) -> None:
    found = {(review.split, review.label) for review in reviews}
    for split in SPLITS:
        for label, value in _LABELS.items():
            if (split, value) not in found:
                raise DataFormatError(
                    f"{source}: no reviews in {split}/{label}/ (expected {_LAYOUT})")


def _read_tarball(path: Path, progress: bool) -> list[Review]:
    reviews = []
    with open(path, "rb") as raw, tqdm(total=path.stat().st_size, unit="B", unit_scale=True,
                                       desc=f"reading {path.name}", disable=not progress) as bar:
        try:
            # GzipFile, not tarfile's own "r|gz": it raises on a truncated archive, where tarfile
            # would stop at the last whole member as if the archive ended there.
            with gzip.GzipFile(fileobj=raw) as unzipped, \
                    tarfile.open(fileobj=unzipped, mode="r|") as archive:
                for member in archive:
                    match = _MEMBER.fullmatch(member.name)
                    if match and member.isfile():
                        data = archive.extractfile(member).read()
                        reviews.append(_review(f"{path}:{member.name}", match, data))
                    bar.update(raw.tell() - bar.n)
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise DataFormatError(f"{path}: not a readable .tar.gz archive ({exc})") from exc
    _check_complete(reviews, path)
    return reviews


def _read_folder(root: Path, folders: list[Path], progress: bool) -> list[Review]:
    files = [(entry.path, match) for folder in folders for entry in os.scandir(folder)
             if (match := _MEMBER.fullmatch(f"{folder.parent.name}/{folder.name}/{entry.name}"))]
    bar = tqdm(files, desc=f"reading {root}", unit=" files", disable=not progress)
    reviews = [_review(name, match, Path(name).read_bytes()) for name, match in bar]
    _check_complete(reviews, root)
    return reviews


def _lines(path: Path) -> list[str]:
    # Not splitlines(): reviews contain \x85 and other characters it would break lines at.
    lines = _decode(str(path), path.read_bytes()).split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def _read_trask(root: Path) -> list[Review]:
    reviews_path, labels_path = root / "reviews.txt", root / "labels.txt"
    texts, labels = _lines(reviews_path), _lines(labels_path)
    if len(texts) != len(labels):
        raise DataFormatError(f"{labels_path}: {len(labels)} labels for the {len(texts)} reviews "
                              f"of {reviews_path} (expected one label per review)")
    if len(texts) <= TRASK_TEST_SIZE:
        raise DataFormatError(f"{reviews_path}: {len(texts)} reviews, expected more than "
                              f"{TRASK_TEST_SIZE} (the last {TRASK_TEST_SIZE} are the test split)")
    reviews = []
    for number, (text, label) in enumerate(zip(texts, labels)):
        if label.strip() not in _TRASK_LABELS:
            raise DataFormatError(f"{labels_path}, line {number + 1}: unknown label {label!r} "
                                  f"(expected 'positive' or 'negative')")
        if not text.strip():
            raise DataFormatError(f"{reviews_path}, line {number + 1}: empty review")
        split = "train" if number < len(texts) - TRASK_TEST_SIZE else "test"
        reviews.append(Review(split, _TRASK_LABELS[label.strip()], number, text))
    return reviews


def read_reviews(source: Source, progress: bool = True) -> list[Review]:
    """Every labeled review of ``source``, ordered by split (train first), label, then number."""
    if source.kind == "tarball":
        reviews = _read_tarball(source.root, progress)
    elif source.kind == "folder":
        reviews = _read_folder(source.root, source.identity, progress)
    else:
        reviews = _read_trask(source.root)
    return sorted(reviews, key=order)


def order(review: Review) -> tuple[int, int, int]:
    """The sort key of reviews: split (train first), label (negative first), number."""
    return SPLITS.index(review.split), review.label, review.number
