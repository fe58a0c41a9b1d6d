"""The IMDB reviews as bag-of-words arrays for training: indexed once, then cached.

A split holds each review's sorted unique word ids (see ``models.vocab``) in CSR form, labels 1 for
positive and 0 for negative, ordered by label (negative first), then review id (line number for
Trask's files). ``limit_train``/``limit_test`` keep a seeded random sample (seed 0) of half negative
and half positive reviews (the odd one positive), still in that order; the vocabulary comes from the
training reviews that are kept. The data sources are read by ``models.imdb_source``.

The indexed corpus is cached as ``imdb-<key>.npz`` in the cache folder (plain arrays, no pickle).
The key hashes the source's resolved path, size and modification time (for a folder: those of its
four ``{train,test}/{pos,neg}`` directories, so a review edited in place leaves a stale cache:
delete it), all options, and the tokenizer and cache format versions.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
import warnings
import zipfile
from array import array
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .imdb_source import (CACHE_ENV, DATA_ENV, SPLITS, DataFormatError, Review, Source,
                          default_cache_dir, locate, order, read_reviews, resolve_data_path,
                          write_atomically)
from .vocab import TOKENIZER_VERSION, Vocabulary, tokenize, with_ngrams

__all__ = ["Corpus", "DataFormatError", "Split", "default_cache_dir", "load", "resolve_data_path",
           "split_validation"]

LIMIT_SEED = 0
# Bump whenever the indexing below changes the arrays: it is part of the cache key.
CACHE_FORMAT = 1


@dataclass(frozen=True, eq=False)
class Split:
    """Reviews as CSR rows: review ``i``'s sorted unique word ids are
    ``ids[offsets[i]:offsets[i + 1]]``."""

    ids: np.ndarray  # int32, every review's ids back to back
    offsets: np.ndarray  # int64, length len(self) + 1
    labels: np.ndarray  # float32, 1 positive, 0 negative

    def __len__(self) -> int:
        return len(self.labels)

    def review(self, i: int) -> np.ndarray:
        """The word ids of review ``i``."""
        return self.ids[self.offsets[i]:self.offsets[i + 1]]

    def batch(self, indices: np.ndarray | list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ids, segments, labels)`` of the reviews ``indices``, for segment sums.

        ``ids`` holds their word ids back to back; ``segments[j]`` (int32) is the position in
        ``indices`` of the review ``ids[j]`` belongs to. Segments rather than offsets: they stay
        right for reviews without known words (``np.add.reduceat`` does not) and the backward pass
        scatters with them.
        """
        indices = np.asarray(indices, dtype=np.int64)
        starts = self.offsets[indices]
        lengths = self.offsets[indices + 1] - starts
        segments = np.repeat(np.arange(len(indices), dtype=np.int32), lengths)
        batch_starts = np.cumsum(lengths) - lengths
        positions = np.arange(len(segments)) + np.repeat(starts - batch_starts, lengths)
        return self.ids[positions], segments, self.labels[indices]

    def subset(self, indices: np.ndarray | list[int]) -> Split:
        """The reviews ``indices`` as a new split, in that order."""
        ids, segments, labels = self.batch(indices)
        offsets = np.zeros(len(labels) + 1, dtype=np.int64)
        np.cumsum(np.bincount(segments, minlength=len(labels)), out=offsets[1:])
        return Split(ids, offsets, labels)


@dataclass(frozen=True, eq=False)
class Corpus:
    """Both splits, the training vocabulary, and how they were obtained."""

    train: Split
    test: Split
    vocab: Vocabulary
    source: Path
    load_seconds: float  # reading + tokenizing (cold) or reading the cache; excludes downloading
    from_cache: bool
    cache_path: Path | None


def split_validation(split: Split, fraction: float, seed: int = 0) -> tuple[Split, Split]:
    """``(train, valid)``: a seeded random ``fraction`` of each label held out of ``split``."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    rng = np.random.default_rng(seed)
    held_out = np.zeros(len(split), dtype=bool)
    for label in (0, 1):
        members = np.flatnonzero(split.labels == label)
        held_out[rng.choice(members, round(fraction * len(members)), replace=False)] = True
    return split.subset(np.flatnonzero(~held_out)), split.subset(np.flatnonzero(held_out))


def _take_balanced(reviews: list[Review], limit: int | None) -> list[Review]:
    """A seeded sample of ``limit`` reviews, half of each label, in the order of ``reviews``."""
    if limit is None or limit >= len(reviews):
        return reviews
    rng = np.random.default_rng(LIMIT_SEED)
    negative = [review for review in reviews if review.label == 0]
    positive = [review for review in reviews if review.label == 1]
    n_positive = min(len(positive), limit - min(len(negative), limit // 2))
    chosen = [group[i] for group, n in ((negative, limit - n_positive), (positive, n_positive))
              for i in np.sort(rng.choice(len(group), n, replace=False))]
    return sorted(chosen, key=order)


def _index(reviews: list[Review], min_count: int, polarity_cutoff: float,
           progress: bool, ngrams: int = 1) -> dict[str, np.ndarray]:
    """Tokenize, build the vocabulary (of words and n-grams up to ``ngrams`` words) from the
    training reviews, and encode every review."""
    # Provisional ids in order of first sight (a missing word gets the next id, all in C); they
    # become vocabulary ids once the vocabulary is known, after the last training review.
    provisional: defaultdict[str, int] = defaultdict()
    provisional.default_factory = provisional.__len__
    flat, lengths = array("i"), np.empty(len(reviews), dtype=np.int64)
    occurrences = (Counter(), Counter())  # in negative, positive training reviews
    bar = tqdm(reviews, desc="tokenizing", unit=" reviews", disable=not progress)
    for i, review in enumerate(bar):
        words = with_ngrams(tokenize(review.text), ngrams)
        if review.split == "train":
            occurrences[review.label].update(words)
        before = len(flat)
        flat.extend(map(provisional.__getitem__, set(words)))
        lengths[i] = len(flat) - before

    vocab = Vocabulary.build(occurrences[1], occurrences[0], min_count=min_count,
                             polarity_cutoff=polarity_cutoff)
    to_vocab = np.fromiter((vocab.index.get(word, -1) for word in provisional), np.int64,
                           count=len(provisional))
    ids = to_vocab[np.frombuffer(flat, dtype=np.int32)]
    segments = np.repeat(np.arange(len(reviews), dtype=np.int64), lengths)
    known = ids >= 0
    ids, segments = ids[known], segments[known]
    ordered = np.sort(segments * max(len(vocab), 1) + ids)  # by review, then word id
    ids = (ordered % max(len(vocab), 1)).astype(np.int32)
    offsets = np.zeros(len(reviews) + 1, dtype=np.int64)
    np.cumsum(np.bincount(segments, minlength=len(reviews)), out=offsets[1:])
    labels = np.array([review.label for review in reviews], dtype=np.float32)

    n_train = sum(review.split == "train" for review in reviews)
    middle = offsets[n_train]
    return {"train_ids": ids[:middle], "train_offsets": offsets[:n_train + 1],
            "train_labels": labels[:n_train], "test_ids": ids[middle:],
            "test_offsets": offsets[n_train:] - middle, "test_labels": labels[n_train:],
            "vocab_words": np.array(json.dumps(vocab.words)), "vocab_counts": vocab.counts}


def _cache_key(source: Source, options: dict) -> str:
    stats = [(str(path.resolve()), path.stat()) for path in source.identity]
    return hashlib.sha256(json.dumps({
        "format": CACHE_FORMAT, "tokenizer": TOKENIZER_VERSION, "kind": source.kind, **options,
        "source": [[name, stat.st_size, stat.st_mtime_ns] for name, stat in stats],
    }, sort_keys=True).encode()).hexdigest()


def _read_cache(path: Path, key: str) -> dict[str, np.ndarray] | None:
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        if str(arrays.pop("key")) == key:
            return arrays
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # rebuilt, not fatal
        warnings.warn(f"{path}: unreadable cache, rebuilding it ({exc})", stacklevel=3)
    return None


def _write_cache(path: Path, key: str, arrays: dict[str, np.ndarray]) -> None:
    try:
        write_atomically(path, lambda out: np.savez(out, key=np.array(key), **arrays))
    except OSError as exc:  # e.g. a read-only cache folder: the run goes on uncached
        warnings.warn(f"{path}: could not write the corpus cache ({exc})", stacklevel=3)


def load(data: str | os.PathLike | None = None, *, min_count: int = 0, polarity_cutoff: float = 0.0,
         limit_train: int | None = None, limit_test: int | None = None, cache: bool = True,
         cache_dir: str | os.PathLike | None = None, progress: bool = True, ngrams: int = 1) -> Corpus:
    """Load the IMDB corpus (see the module docstring), from the ``.npz`` cache when it is fresh.

    ``data``: a tarball, an ``aclImdb/`` folder, or Trask's ``reviews.txt`` (or its folder);
    ``None`` resolves it as ``resolve_data_path`` does. ``min_count`` and ``polarity_cutoff``
    prune the vocabulary (see ``models.vocab``); ``limit_train``/``limit_test`` sample
    label-balanced subsets. ``ngrams`` > 1 adds runs of up to that many words to the vocabulary
    and the reviews (see ``models.vocab.with_ngrams``). ``cache_dir`` (default
    ``default_cache_dir()``) is searched for the data and holds the cache.
    """
    if ngrams < 1:
        raise ValueError(f"ngrams must be >= 1, got {ngrams}")
    for option, limit in (("limit_train", limit_train), ("limit_test", limit_test)):
        if limit is not None and limit < 0:
            raise ValueError(f"{option} must be a count >= 0 or None, got {limit}")
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    path = resolve_data_path(data, cache_dir=cache_dir, progress=progress)
    start = time.perf_counter()
    source = locate(path)
    options = {"min_count": min_count, "polarity_cutoff": float(polarity_cutoff),
               "limit_train": limit_train, "limit_test": limit_test}
    if ngrams > 1:  # only then, so that caches built before this option stay valid
        options["ngrams"] = ngrams
    key = _cache_key(source, options)
    cache_path = cache_dir / f"imdb-{key[:20]}.npz" if cache else None

    arrays = _read_cache(cache_path, key) if cache_path else None
    from_cache = arrays is not None
    if arrays is None:
        reviews = read_reviews(source, progress)
        splits = {split: _take_balanced([review for review in reviews if review.split == split],
                                        limit)
                  for split, limit in (("train", limit_train), ("test", limit_test))}
        arrays = _index(splits["train"] + splits["test"], min_count, polarity_cutoff, progress, ngrams)
        if cache_path:
            _write_cache(cache_path, key, arrays)

    train, test = (Split(*(arrays[f"{split}_{name}"] for name in ("ids", "offsets", "labels")))
                   for split in SPLITS)
    vocab = Vocabulary(json.loads(str(arrays["vocab_words"])), arrays["vocab_counts"])
    seconds = time.perf_counter() - start
    return Corpus(train, test, vocab, source.root, seconds, from_cache, cache_path)


def main(argv: list[str] | None = None) -> None:
    """Load the corpus (building its cache) and print what it holds."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--data", help=f"tarball, aclImdb/ folder or reviews.txt (default: "
                                       f"${DATA_ENV}, then the cache folder, then download)")
    parser.add_argument("--cache-dir", help=f"default: ${CACHE_ENV} or ~/.cache/graphgrad")
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--min-count", type=int, default=0)
    parser.add_argument("--polarity-cutoff", type=float, default=0.0)
    parser.add_argument("--limit-train", type=int)
    parser.add_argument("--limit-test", type=int)
    args = parser.parse_args(argv)
    corpus = load(args.data, min_count=args.min_count, polarity_cutoff=args.polarity_cutoff,
                  limit_train=args.limit_train, limit_test=args.limit_test,
                  cache=not args.no_cache, cache_dir=args.cache_dir)
    print(f"source {corpus.source}; {'cached' if corpus.from_cache else 'cold'} load "
          f"{corpus.load_seconds:.2f} s; cache {corpus.cache_path}")
    print(f"vocabulary {len(corpus.vocab):,} words")
    for name, split in (("train", corpus.train), ("test", corpus.test)):
        print(f"{name}: {len(split):,} reviews, {int(split.labels.sum()):,} positive, "
              f"{len(split.ids) / max(len(split), 1):.1f} unique known words per review")


if __name__ == "__main__":
    main()
