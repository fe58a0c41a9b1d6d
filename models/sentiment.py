"""The bag-of-words sentiment network of Trask's lesson, built and differentiated with graphgrad.

A review is the set of its known word ids. The network: ``hidden = sum of W0[ids]``,
``p = sigmoid(hidden . W1)`` with ``W1`` hidden-by-1 (plus an optional output bias ``b``),
trained on the binary cross-entropy of ``p`` against the label. Gradients come from one ``gg.grad`` call; the
``W0`` update ``W0 - lr * gW0`` has a row-sparse ``gW0``, which graphgrad applies in place to the
rows of the review(s) only, so a step costs the same whatever the vocabulary size.

Two training modes: per-review SGD (``batch_size=1``, the lesson's setting) and mini-batches,
whose hidden layer is ``gg.segment_sum(gg.take(W0, ids), segments, n_reviews)`` and whose loss
is the *sum* of the reviews' losses, so ``lr`` means the same step per review at every batch size.

Learning rate: the lesson's 0.1 multiplies the squared-error delta ``(p - t) * p * (1 - p)``,
whose sigmoid factor is at most 1/4; the log-loss delta is ``p - t`` alone, so the same step
needs a smaller rate. ``DEFAULT_LR`` was chosen by the sweep in docs/sentiment.md.

Command line (in ``models.sentiment_cli``): ``python -m models.sentiment {train,evaluate,predict}
--help``.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np
from tqdm import tqdm

import graphgrad as gg

from .imdb import Split
from .vocab import Vocabulary

DEFAULT_LR = 0.001
FORMAT = "graphgrad-sentiment-1"
INITS = ("lesson", "normal")
ORDERS = ("alternate", "random", "stored")
SCHEDULES = ("constant", "linear")
EVAL_BATCH = 1000  # reviews per forward pass when evaluating: big enough to amortize the calls
PROGRESS_EVERY = 1000  # reviews between progress-bar refreshes: a refresh costs ~100 steps' time


@dataclass(frozen=True)
class Config:
    """What defines a trained model besides its weights: architecture, and the options that
    produced its vocabulary and weights (recorded in saved files)."""

    hidden: int = 10
    bias: bool = False
    init: str = "lesson"
    seed: int = 0
    lr: float = DEFAULT_LR
    epochs: int = 1
    batch_size: int = 1
    order: str = "alternate"
    schedule: str = "constant"
    min_count: int = 0
    polarity_cutoff: float = 0.0
    ngrams: int = 1
    limit_train: int | None = None

    def __post_init__(self) -> None:
        for name in ("hidden", "epochs", "batch_size", "ngrams"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {self.order!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")


@dataclass
class TrainResult:
    """Running (before-update) accuracy of the last epoch, and the training time (wall-clock and
    CPU: on a shared machine the wall-clock time includes other jobs' time slices)."""

    accuracy: float
    seconds: float
    cpu_seconds: float
    compile_seconds: float
    reviews: int


class SentimentNet:
    """Weights (graphgrad shared variables), vocabulary and compiled functions of one model."""

    def __init__(self, vocab: Vocabulary, config: Config = Config(),
                 weights: dict[str, np.ndarray] | None = None):
        """A fresh model for ``vocab`` initialized as ``config.init`` says, or one holding
        ``weights`` (``W0``, ``W1`` and, with ``config.bias``, ``b``) as loaded from a file."""
        self.vocab, self.config = vocab, config
        if weights is None:
            weights = initial_weights(len(vocab), config)
        self.W0 = gg.shared(weights["W0"], name="W0")
        self.W1 = gg.shared(weights["W1"], name="W1")
        self.b = gg.shared(weights["b"], name="b") if config.bias else None
        # A shared learning rate: a schedule changes it between steps without recompiling.
        self.lr = gg.shared(np.float32(config.lr), name="lr")
        self._forward: gg.Function | None = None

    @property
    def params(self) -> dict[str, gg.SharedVariable]:
        """The trained parameters by name."""
        return {"W0": self.W0, "W1": self.W1, **({"b": self.b} if self.b is not None else {})}

    # --- graphs ---------------------------------------------------------------------------------
    def _probability(self, hidden: gg.Variable, w1: gg.Variable) -> gg.Variable:
        z = gg.dot(hidden, w1)
        return gg.sigmoid(z if self.b is None else z + self.b)

    def _batch_probability(self) -> tuple[list[gg.Variable], gg.Variable]:
        ids, segments, n = gg.ivector("ids"), gg.ivector("segments"), gg.iscalar("n_reviews")
        hidden = gg.segment_sum(gg.take(self.W0, ids), segments, n)
        return [ids, segments, n], self._probability(hidden, self.W1[:, 0])

    def review_step(self, split: Split | None = None) -> gg.Function:
        """``step(ids, target) -> p`` (shape (1,)): one SGD step at rate ``self.lr`` on a review's
        unique word ids (int32) with ``target`` a float32 0 or 1; ``p`` is computed before the
        update.

        With a ``split``, ``step(i, target)`` steps on review ``i`` (an int32) of ``split``, whose
        reviews the function holds as constants, as a Theano user keeps a data set in the graph:
        graphgrad then proves once, when compiling, that every review's ids increase strictly, and
        a step writes the rows back without checking its ids for repeats."""
        target = gg.scalar("target")
        if split is None:
            ids = first = gg.ivector("ids")
        else:
            first = gg.iscalar("review")
            ids = gg.bag(gg.as_tensor(split.ids, name="review_ids"), gg.as_tensor(split.offsets, name="review_offsets"),
                         first)
        p = self._probability(gg.take(self.W0, ids).sum(axis=0), self.W1)
        return self._compile_step([first, target], p, gg.binary_crossentropy(p, target).sum())

    def batch_step(self) -> gg.Function:
        """``step(ids, segments, n_reviews, targets) -> p`` (shape (n_reviews,)): one SGD step at
        rate ``self.lr`` on the summed loss of a mini-batch laid out as ``Split.batch`` returns it."""
        inputs, p = self._batch_probability()
        targets = gg.vector("targets")
        return self._compile_step(inputs + [targets], p, gg.binary_crossentropy(p, targets).sum())

    def _compile_step(self, inputs: list[gg.Variable], p: gg.Variable, loss: gg.Variable) -> gg.Function:
        params = list(self.params.values())
        grads = gg.grad(loss, params)
        return gg.function(inputs, p, updates=[(w, w - self.lr * g) for w, g in zip(params, grads)],
                           name="sentiment_step")

    def forward(self) -> gg.Function:
        """``forward(ids, segments, n_reviews) -> p``, compiled once."""
        if self._forward is None:
            inputs, p = self._batch_probability()
            self._forward = gg.function(inputs, p, name="sentiment_forward")
        return self._forward

    # --- training and evaluation ----------------------------------------------------------------
    def fit(self, split: Split, *, progress: bool = True) -> TrainResult:
        """Train on ``split`` as the config says (see ``review_order`` for its ``order``, and
        ``learning_rates`` for its ``schedule``). The accuracy returned is the lesson's running
        accuracy of the last epoch: each review predicted just before the step it drives."""
        config = self.config
        rng = np.random.default_rng(config.seed)
        start = time.perf_counter()
        step = self.review_step(split) if config.batch_size == 1 else self.batch_step()
        compile_seconds = time.perf_counter() - start
        chunk = PROGRESS_EVERY if config.batch_size == 1 else config.batch_size
        rates = learning_rates(config, len(split), chunk)
        train_seconds = cpu_seconds = 0.0
        accuracy = float("nan")
        for epoch in range(config.epochs):
            order = review_order(split.labels, config.order, rng)
            desc = f"training {epoch + 1}/{config.epochs}" if config.epochs > 1 else "training"
            with _bar(len(split), desc, progress) as bar:
                start, cpu = time.perf_counter(), time.process_time()
                train = _train_reviews if config.batch_size == 1 else _train_batches
                accuracy = train(step, split, order, chunk, next(rates), self.lr, bar)
                train_seconds += time.perf_counter() - start
                cpu_seconds += time.process_time() - cpu
        self.lr.set_value(np.float32(config.lr))
        return TrainResult(accuracy, train_seconds, cpu_seconds, compile_seconds, config.epochs * len(split))

    def predict(self, split: Split, *, progress: bool = False) -> np.ndarray:
        """p(positive) of every review of ``split`` (float32)."""
        return self._predict(split, progress)[0]

    def evaluate(self, split: Split, *, progress: bool = True) -> tuple[float, float]:
        """``(accuracy, seconds)`` on ``split``."""
        _, accuracy, seconds = self._predict(split, progress)
        return accuracy, seconds

    def _predict(self, split: Split, progress: bool) -> tuple[np.ndarray, float, float]:
        forward = self.forward()
        out = np.empty(len(split), dtype=np.float32)
        correct = 0
        with _bar(len(split), "evaluating", progress) as bar:
            start = time.perf_counter()
            for first in range(0, len(split), EVAL_BATCH):
                chosen = np.arange(first, min(first + EVAL_BATCH, len(split)))
                ids, segments, labels = split.batch(chosen)
                out[chosen] = p = forward(ids, segments, np.int32(len(chosen)))
                correct += int(np.count_nonzero((p > 0.5) == (labels > 0.5)))
                bar.update(len(chosen))
                bar.set_postfix(accuracy=f"{correct / (chosen[-1] + 1):.4f}", refresh=False)
            seconds = time.perf_counter() - start
        return out, correct / max(len(split), 1), seconds

    def predict_text(self, text: str) -> float:
        """p(positive) of a raw review; words outside the vocabulary are ignored."""
        ids = self.vocab.encode(text, self.config.ngrams)
        return float(self.forward()(ids, np.zeros(len(ids), np.int32), np.int32(1))[0])

    # --- files ------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write weights, vocabulary and config to ``path`` as ``.npz`` (atomically, no pickle)."""
        arrays = {name: p.get_value(borrow=True) for name, p in self.params.items()}
        gg.save_arrays(path, {"format": np.array(FORMAT), "config": np.array(json.dumps(asdict(self.config))),
                              "vocab_words": np.array(json.dumps(self.vocab.words)),
                              "vocab_counts": self.vocab.counts, **arrays})

    @classmethod
    def load(cls, path: str | os.PathLike) -> SentimentNet:
        """A model saved by ``save``; a file of another kind or with inconsistent shapes raises
        ``gg.InputTypeError`` / ``gg.ShapeError`` naming the file."""
        arrays = gg.load_arrays(path)
        if "format" not in arrays or str(arrays["format"]) != FORMAT:
            raise gg.InputTypeError(f"{path}: not a sentiment model file (expected format {FORMAT!r}, "
                                    f"found arrays {sorted(arrays)})")
        try:
            config = Config(**json.loads(str(arrays["config"])))
            vocab = Vocabulary(json.loads(str(arrays["vocab_words"])), arrays["vocab_counts"])
        except (KeyError, TypeError, ValueError) as error:
            raise gg.InputTypeError(f"{path}: unreadable model description: {error!r}") from None
        expected = {"W0": (len(vocab), config.hidden), "W1": (config.hidden, 1)}
        if config.bias:
            expected["b"] = (1,)
        for name, shape in expected.items():
            if name not in arrays:
                raise gg.InputTypeError(f"{path}: missing array {name!r} (found {sorted(arrays)})")
            array = arrays[name]
            if array.dtype.kind != "f" or array.shape != shape:
                raise gg.ShapeError(f"{path}: {name!r} should be a float array of shape {shape} "
                                    f"(vocabulary {len(vocab)}, hidden {config.hidden}), got "
                                    f"{array.dtype} {array.shape}")
        return cls(vocab, config, {name: arrays[name] for name in expected})


def initial_weights(vocab_size: int, config: Config) -> dict[str, np.ndarray]:
    """``lesson``: W0 zeros, W1 ~ N(0, 1) (the lesson's N(0, output_nodes ** -0.5) for one
    output); ``normal``: W0 ~ N(0, 0.01^2), W1 ~ N(0, 1 / hidden). Bias zero. float32."""
    rng = np.random.default_rng(config.seed)
    if config.init == "lesson":
        W0 = np.zeros((vocab_size, config.hidden), dtype=np.float32)
        W1 = rng.standard_normal((config.hidden, 1)).astype(np.float32)
    else:
        W0 = (0.01 * rng.standard_normal((vocab_size, config.hidden))).astype(np.float32)
        W1 = (rng.standard_normal((config.hidden, 1)) / np.sqrt(config.hidden)).astype(np.float32)
    return {"W0": W0, "W1": W1, "b": np.zeros(1, dtype=np.float32)}


def learning_rates(config: Config, n_reviews: int, chunk: int) -> Iterator[np.ndarray]:
    """For each epoch, the learning rate of each chunk of ``chunk`` reviews: ``config.lr``
    throughout (``constant``), or falling linearly from it to nearly 0 over all the epochs
    (``linear``), which calms the last steps: SGD's final weights otherwise carry the noise of
    the last few hundred reviews (docs/sentiment.md)."""
    chunks = -(-n_reviews // chunk)
    total = config.epochs * chunks
    for epoch in range(config.epochs):
        done = epoch * chunks + np.arange(chunks)
        if config.schedule == "constant":
            yield np.full(chunks, config.lr, dtype=np.float32)
        else:
            yield (config.lr * (1 - done / total)).astype(np.float32)


def review_order(labels: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """The order in which an epoch visits the reviews of ``labels``.

    ``alternate`` (default): each label's reviews shuffled, then interleaved in proportion (neg,
    pos, neg, pos... when balanced), as in Trask's reviews.txt. Per-review SGD's final weights
    lean towards the last few hundred labels it saw; a random order lets them run one way and
    costs up to 3 points of test accuracy (docs/sentiment.md). ``random``: a plain permutation.
    ``stored``: the stored order, which is sorted by label, so SGD sees every negative first.
    """
    if kind == "stored":
        return np.arange(len(labels))
    if kind == "random":
        return rng.permutation(len(labels))
    position = np.empty(len(labels))
    for label in (0, 1):
        members = np.flatnonzero(labels == label)
        position[rng.permutation(members)] = (np.arange(len(members)) + 0.5) / max(len(members), 1)
    return np.lexsort((labels, position))


def _bar(total: int, desc: str, progress: bool) -> tqdm:
    return tqdm(total=total, desc=desc, unit=" reviews", unit_scale=True, disable=not progress,
                mininterval=0.5, file=sys.stderr)


def _train_reviews(step: gg.Function, split: Split, order: np.ndarray, chunk: int, rates: np.ndarray,
                   lr: gg.SharedVariable, bar: tqdm) -> float:
    """One epoch of per-review SGD, at ``rates[k]`` for the ``k``-th chunk of ``chunk`` reviews;
    returns the running accuracy."""
    # numpy int32 and float32 scalars pass the compiled function's input checks untouched;
    # fetching them from arrays inside the loop would cost more than the arithmetic of a step.
    reviews = list(np.arange(len(split), dtype=np.int32))
    targets = list(split.labels.astype(np.float32))
    correct = seen = 0
    for k, first in enumerate(range(0, len(order), chunk)):
        lr.set_value(rates[k])
        for i in order[first:first + chunk].tolist():
            p = step(reviews[i], targets[i])
            correct += (p[0] > 0.5) == (targets[i] > 0.5)
        bar.update(min(first + chunk, len(order)) - seen)
        seen = min(first + chunk, len(order))
        bar.set_postfix(accuracy=f"{correct / seen:.4f}", refresh=False)
    return correct / max(seen, 1)


def _train_batches(step: gg.Function, split: Split, order: np.ndarray, batch_size: int,
                   rates: np.ndarray, lr: gg.SharedVariable, bar: tqdm) -> float:
    """One epoch of mini-batch SGD, at ``rates[k]`` for the ``k``-th batch; returns the running
    accuracy."""
    correct = seen = 0
    for k, first in enumerate(range(0, len(order), batch_size)):
        lr.set_value(rates[k])
        chosen = order[first:first + batch_size]
        ids, segments, labels = split.batch(chosen)
        p = step(ids, segments, np.int32(len(chosen)), labels)
        correct += int(np.count_nonzero((p > 0.5) == (labels > 0.5)))
        seen += len(chosen)
        bar.update(len(chosen))
        if seen % PROGRESS_EVERY < batch_size:
            bar.set_postfix(accuracy=f"{correct / seen:.4f}", refresh=False)
    return correct / max(len(order), 1)


def reindex(split: Split, source: Vocabulary, target: Vocabulary) -> Split:
    """``split``, encoded with ``source``, re-encoded with ``target`` (unknown words dropped)."""
    if source.words == target.words:
        return split
    mapping = np.array([target.index.get(word, -1) for word in source.words], dtype=np.int64)
    ids = mapping[split.ids] if len(mapping) else np.zeros(0, np.int64)
    segments = np.repeat(np.arange(len(split)), np.diff(split.offsets))
    known = ids >= 0
    ids, segments = ids[known], segments[known]
    order = np.lexsort((ids, segments))  # each review's ids sorted again
    offsets = np.zeros(len(split) + 1, dtype=np.int64)
    np.cumsum(np.bincount(segments, minlength=len(split)), out=offsets[1:])
    return Split(ids[order].astype(np.int32), offsets, split.labels)


if __name__ == "__main__":
    # The command line lives in sentiment_cli, which imports this module: import it only when run.
    from .sentiment_cli import main

    main()
