"""The MLP of ``models.mlp`` on IMDB reviews: bag-of-words features, the trainer, its command line.

``BagOfWords`` turns an IMDB split into 0/1 vectors over the ``n_words`` most frequent training
words (vocabulary ids are ordered by frequency, so those are ids ``0 .. n_words - 1``), either as
dense rows (``input_kind="dense"``, the default) or as word ids (``"bag"``), for which the first
layer is a segment sum of ``W0`` rows: the same numbers, and no cost per vocabulary word. Dense
rows are the default because at 5,000 words dense BLAS products were about 3x faster per training
step here (single-threaded BLAS) than the gather + segment sum + row scatter of the bag path.

``train_imdb`` keeps the feature words in the model's ``extra`` arrays, so a saved model says what
its inputs are.

Command line: ``python -m models.mlp --save mlp.npz`` (runs ``main``) trains on IMDB bag-of-words
features and reports test accuracy.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from . import imdb
from .mlp import ACTIVATIONS, INPUTS, MLP, OUTPUTS


@dataclass(frozen=True, eq=False)
class BagOfWords:
    """An IMDB split as 0/1 vectors over the ``n_words`` most frequent training words: dense rows,
    or (``input_kind="bag"``, much faster for a wide first layer) the same vectors as word ids for
    a segment sum of ``W0`` rows."""

    split: imdb.Split
    n_words: int
    input_kind: str = "bag"

    def __post_init__(self) -> None:
        if self.input_kind not in INPUTS:
            raise ValueError(f"input_kind must be one of {INPUTS}, got {self.input_kind!r}")

    @property
    def labels(self) -> np.ndarray:
        """1 positive, 0 negative."""
        return self.split.labels.astype(np.int64)

    def __len__(self) -> int:
        return len(self.split)

    def features(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        """Dense: ``(rows,)``, one per review, 1 where it contains the word, else 0. Bag: the
        reviews' kept word ids, the review of each, and the number of reviews."""
        ids, segments, _ = self.split.batch(indices)
        known = ids < self.n_words
        if self.input_kind == "bag":
            return ids[known], segments[known], np.int32(len(indices))
        rows = np.zeros((len(indices), self.n_words), dtype=np.float32)
        rows[segments[known], ids[known]] = 1.0
        return (rows,)


def imdb_bag_of_words(corpus: imdb.Corpus, n_words: int, validation: float, seed: int = 0,
                      input_kind: str = "bag") -> tuple[BagOfWords, BagOfWords, BagOfWords]:
    """``(train, valid, test)`` bag-of-words datasets: ``valid`` is a seeded, label-balanced
    ``validation`` fraction held out of the training split."""
    if n_words < 1:
        raise ValueError(f"n_words must be >= 1, got {n_words}")
    n_words = min(n_words, len(corpus.vocab))
    train, valid = imdb.split_validation(corpus.train, validation, seed)
    return tuple(BagOfWords(split, n_words, input_kind) for split in (train, valid, corpus.test))


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """Command-line options for ``train_imdb``."""
    parser.add_argument("--words", type=int, default=5000, help="input features: the N most frequent words")
    parser.add_argument("--hidden", default="512,256,128", help="hidden layer widths, comma-separated")
    parser.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu")
    parser.add_argument("--output", choices=OUTPUTS, default="softmax")
    parser.add_argument("--input", choices=INPUTS, default="dense",
                        help="bag: first layer as a segment sum of W0 rows (the same maths as dense 0/1 rows)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--momentum", type=float, default=0.0)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--activity-l1", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)


def train_imdb(args: argparse.Namespace, train: BagOfWords, vocab_words: Sequence[str]) -> MLP:
    """Create and train an MLP on ``train`` with the options of ``add_training_options``; the
    feature words are kept in the model's ``extra`` so a saved model says what its inputs are."""
    hidden = [int(n) for n in str(args.hidden).split(",") if n.strip()]
    n_classes = 2 if args.output == "softmax" else 1
    model = MLP.create([train.n_words, *hidden, n_classes], args.activation, args.output, train.input_kind,
                       args.seed)
    model.extra["words"] = np.array(vocab_words[:train.n_words])
    model.train(train, args.epochs, args.batch_size, args.lr, args.momentum, args.weight_decay,
                args.activity_l1, args.seed)
    return model


def main(argv: list[str] | None = None) -> None:
    """Train an MLP on IMDB bag-of-words features, report accuracy, optionally save it."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--data", help="IMDB tarball, aclImdb/ folder or reviews.txt (see models.imdb)")
    parser.add_argument("--cache-dir")
    parser.add_argument("--validation", type=float, default=0.1, help="fraction of train held out")
    add_training_options(parser)
    parser.add_argument("--save", help="write the trained model to this .npz file")
    parser.add_argument("--metrics-json", help="write accuracies and timings to this JSON file")
    args = parser.parse_args(argv)
    corpus = imdb.load(args.data, cache_dir=args.cache_dir)
    train, valid, test = imdb_bag_of_words(corpus, args.words, args.validation, args.seed, args.input)
    start = time.perf_counter()
    model = train_imdb(args, train, corpus.vocab.words)
    train_seconds = time.perf_counter() - start
    metrics = {"sizes": model.sizes, "n_params": model.n_params, "train_seconds": round(train_seconds, 2),
               "valid_accuracy": model.evaluate(valid, progress=True),
               "test_accuracy": model.evaluate(test, progress=True)}
    print(json.dumps(metrics))
    if args.save:
        model.save(args.save)
    if args.metrics_json:
        Path(args.metrics_json).write_text(json.dumps(metrics, indent=2) + "\n")
