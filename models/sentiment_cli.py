"""The command line of ``models.sentiment``, run as ``python -m models.sentiment
{train,evaluate,predict} --help``: ``train`` trains on the IMDB train split and evaluates on its
test split, ``evaluate`` evaluates a saved model on the test split, ``predict`` gives p(positive)
of one review text; each prints its metrics and can write them to a JSON file.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from . import imdb, sentiment
from .sentiment import DEFAULT_LR, INITS, ORDERS, SCHEDULES, Config, SentimentNet, reindex


def load_corpus(args: argparse.Namespace, config: Config, limit_test: int | None) -> imdb.Corpus:
    """The corpus with the vocabulary options of ``config``."""
    return imdb.load(args.data, min_count=config.min_count, polarity_cutoff=config.polarity_cutoff,
                     limit_train=config.limit_train, limit_test=limit_test, ngrams=config.ngrams,
                     cache_dir=args.cache_dir, progress=not args.no_progress)


def _train(args: argparse.Namespace) -> dict[str, Any]:
    config = Config(hidden=args.hidden, bias=args.bias, init=args.init, seed=args.seed, lr=args.lr,
                    epochs=args.epochs, batch_size=args.batch_size, order=args.order, schedule=args.schedule,
                    min_count=args.min_count, polarity_cutoff=args.polarity_cutoff, ngrams=args.ngrams,
                    limit_train=args.limit_train)
    corpus = load_corpus(args, config, args.limit_test)
    model = SentimentNet(corpus.vocab, config)
    trained = model.fit(corpus.train, progress=not args.no_progress)
    test_accuracy, test_seconds = model.evaluate(corpus.test, progress=not args.no_progress)
    if args.save:
        model.save(args.save)
    return {"train_accuracy": trained.accuracy, "test_accuracy": test_accuracy,
            "train_reviews_per_second": trained.reviews / max(trained.seconds, 1e-9),
            "test_reviews_per_second": len(corpus.test) / max(test_seconds, 1e-9),
            "vocab_size": len(corpus.vocab), "n_train": len(corpus.train), "n_test": len(corpus.test),
            "load_seconds": corpus.load_seconds, "from_cache": corpus.from_cache,
            "compile_seconds": trained.compile_seconds, "train_seconds": trained.seconds,
            "train_cpu_seconds": trained.cpu_seconds,
            "train_reviews_per_cpu_second": trained.reviews / max(trained.cpu_seconds, 1e-9),
            "test_seconds": test_seconds, "config": asdict(config)}


def _evaluate(args: argparse.Namespace) -> dict[str, Any]:
    model = SentimentNet.load(args.model)
    corpus = load_corpus(args, model.config, args.limit_test)
    test = reindex(corpus.test, corpus.vocab, model.vocab)
    accuracy, seconds = model.evaluate(test, progress=not args.no_progress)
    return {"test_accuracy": accuracy, "test_reviews_per_second": len(test) / max(seconds, 1e-9),
            "vocab_size": len(model.vocab), "n_test": len(test), "load_seconds": corpus.load_seconds,
            "test_seconds": seconds}


def _predict(args: argparse.Namespace) -> dict[str, Any]:
    model = SentimentNet.load(args.model)
    p = model.predict_text(args.text)
    return {"p_positive": p, "label": "positive" if p > 0.5 else "negative"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m models.sentiment", description=sentiment.__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train on the IMDB train split, evaluate on its test split")
    evaluate = commands.add_parser("evaluate", help="evaluate a saved model on the test split")
    predict = commands.add_parser("predict", help="p(positive) of one review text")
    for command in (train, evaluate):
        command.add_argument("--data", help="tarball, aclImdb/ folder or reviews.txt (default: $GRAPHGRAD_DATA, "
                                            "then the cache folder, then download)")
        command.add_argument("--cache-dir", help="corpus cache folder (default: $GRAPHGRAD_CACHE or "
                                                 "~/.cache/graphgrad)")
        command.add_argument("--limit-test", type=int, help="evaluate on a balanced sample of N test reviews")
        command.add_argument("--metrics-json", type=Path, help="also write the metrics to this JSON file")
        command.add_argument("--no-progress", action="store_true", help="no progress bars")
    train.add_argument("--epochs", type=int, default=1)
    train.add_argument("--hidden", type=int, default=10)
    train.add_argument("--lr", type=float, default=DEFAULT_LR)
    train.add_argument("--batch-size", type=int, default=1, help="1: per-review SGD (the lesson)")
    train.add_argument("--min-count", type=int, default=0, help="drop words seen fewer times in training")
    train.add_argument("--polarity-cutoff", type=float, default=0.0, help="drop words with |log-ratio| below")
    train.add_argument("--ngrams", type=int, default=1, help="2: words and word pairs (bigrams)")
    train.add_argument("--limit-train", type=int, help="train on a balanced sample of N reviews")
    train.add_argument("--seed", type=int, default=0, help="weights and shuffling")
    train.add_argument("--schedule", choices=SCHEDULES, default="constant",
                       help="learning rate: constant, or linear decay to 0 over the whole training")
    train.add_argument("--order", choices=ORDERS, default="alternate",
                       help="alternate: shuffled, labels alternating (default); stored: sorted by label")
    train.add_argument("--bias", action="store_true", help="add a bias to the output")
    train.add_argument("--init", choices=INITS, default="lesson")
    train.add_argument("--save", type=Path, help="write the trained model to this .npz file")
    evaluate.add_argument("--model", type=Path, required=True)
    predict.add_argument("--model", type=Path, required=True)
    predict.add_argument("text")
    predict.add_argument("--metrics-json", type=Path, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run one command; print and return its metrics."""
    args = _parser().parse_args(argv)
    run = {"train": _train, "evaluate": _evaluate, "predict": _predict}[args.command]
    metrics = run(args)
    for name, value in metrics.items():
        if name != "config":
            print(f"{name}: {value:.4f}" if isinstance(value, float) else f"{name}: {value}")
    if args.metrics_json:
        args.metrics_json.write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
