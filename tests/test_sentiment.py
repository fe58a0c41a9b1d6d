"""Tests of models.sentiment on small corpora written in tmp_path, plus an opt-in run on real data."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import graphgrad as gg
from models import imdb, imdb_source
from models.imdb import Split
from models.sentiment import Config, SentimentNet, learning_rates, reindex, review_order
from models.sentiment_cli import main
from models.vocab import Vocabulary

REAL_DATA = os.environ.get(imdb_source.DATA_ENV)

POSITIVE = ["good", "great", "superb", "lovely", "moving", "charming"]
NEGATIVE = ["bad", "awful", "poor", "dull", "boring", "clumsy"]
NEUTRAL = ["the", "film", "movie", "plot", "actor", "scene", "story", "music", "end", "cast"]


def toy_reviews(n: int, seed: int) -> dict[str, dict[int, str]]:
    """``n`` positive and ``n`` negative short reviews: two words of their side, three neutral."""
    rng = np.random.default_rng(seed)
    return {label: {i: " ".join(rng.permutation(list(rng.choice(words, 2)) + list(rng.choice(NEUTRAL, 3))))
                    for i in range(n)}
            for label, words in (("pos", POSITIVE), ("neg", NEGATIVE))}


def write_toy_folder(root: Path, n_train: int = 30, n_test: int = 10) -> Path:
    """A tiny aclImdb/ folder of separable reviews."""
    folder = root / "aclImdb"
    for split, n, seed in (("train", n_train, 0), ("test", n_test, 1)):
        for label, texts in toy_reviews(n, seed).items():
            (folder / split / label).mkdir(parents=True)
            for number, text in texts.items():
                (folder / split / label / f"{number}_7.txt").write_text(text + ".", encoding="utf-8")
    return folder


@pytest.fixture
def toy(tmp_path: Path) -> imdb.Corpus:
    return imdb.load(write_toy_folder(tmp_path), cache_dir=tmp_path / "cache", progress=False)


def small_model(bias: bool = False, vocab_size: int = 12, hidden: int = 4, lr: float = 0.05) -> SentimentNet:
    """A model over a made-up vocabulary with random (not lesson) weights, so every term moves."""
    rng = np.random.default_rng(3)
    vocab = Vocabulary([f"w{i}" for i in range(vocab_size)], np.ones(vocab_size, dtype=np.int64))
    weights = {"W0": rng.standard_normal((vocab_size, hidden)).astype(np.float32),
               "W1": rng.standard_normal((hidden, 1)).astype(np.float32),
               "b": np.array([0.3], dtype=np.float32)}
    return SentimentNet(vocab, Config(hidden=hidden, bias=bias, lr=lr), weights)


def numpy_step(W0: np.ndarray, W1: np.ndarray, b: float, ids_per_review: list[np.ndarray],
               targets: list[float], lr: float) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """The log-loss SGD step written out by hand, in float64: summed over the reviews given."""
    W0, W1 = W0.astype(np.float64), W1.astype(np.float64)
    hidden = np.array([W0[ids].sum(axis=0) for ids in ids_per_review])
    p = 1 / (1 + np.exp(-(hidden @ W1[:, 0] + b)))
    delta = p - np.array(targets)  # d loss / d z for sigmoid + binary cross-entropy
    new_W0 = W0.copy()
    for ids, d in zip(ids_per_review, delta):
        new_W0[ids] -= lr * d * W1[:, 0]
    return new_W0, W1 - lr * (hidden.T @ delta)[:, None], b - lr * delta.sum(), p


# --- the training step is the hand-written maths -------------------------------------------------

@pytest.mark.parametrize("bias", [False, True])
def test_review_step_equals_numpy_step(bias):
    model = small_model(bias)
    W0, W1 = model.W0.get_value(), model.W1.get_value()
    ids = np.array([1, 4, 5, 9], dtype=np.int32)
    want_W0, want_W1, want_b, want_p = numpy_step(W0, W1, 0.3 if bias else 0.0, [ids], [1.0], lr=0.05)
    p = model.review_step()(ids, np.float32(1))
    np.testing.assert_allclose(p, want_p, rtol=1e-6)
    np.testing.assert_allclose(model.W0.get_value(), want_W0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.W1.get_value(), want_W1, rtol=1e-5, atol=1e-6)
    if bias:
        np.testing.assert_allclose(model.b.get_value(), [want_b], rtol=1e-6)
    untouched = np.setdiff1d(np.arange(len(W0)), ids)
    np.testing.assert_array_equal(model.W0.get_value()[untouched], W0[untouched])


@pytest.mark.parametrize("bias", [False, True])
def test_batch_step_equals_numpy_step_with_shared_words(bias):
    model = small_model(bias)
    W0, W1 = model.W0.get_value(), model.W1.get_value()
    reviews = [np.array([0, 2, 3], np.int32), np.array([2, 3, 7, 11], np.int32), np.array([], np.int32)]
    split = Split(np.concatenate(reviews), np.array([0, 3, 7, 7]), np.array([1, 0, 1], np.float32))
    ids, segments, labels = split.batch([0, 1, 2])
    want_W0, want_W1, want_b, want_p = numpy_step(W0, W1, 0.3 if bias else 0.0, reviews, [1, 0, 1], lr=0.05)
    p = model.batch_step()(ids, segments, np.int32(3), labels)
    np.testing.assert_allclose(p, want_p, rtol=1e-6)
    np.testing.assert_allclose(model.W0.get_value(), want_W0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.W1.get_value(), want_W1, rtol=1e-5, atol=1e-6)
    if bias:
        np.testing.assert_allclose(model.b.get_value(), [want_b], rtol=1e-6)


def test_log_loss_gradient_matches_finite_differences():
    ids = np.array([0, 2, 3], dtype=np.int32)

    def loss(W0, W1):
        return gg.binary_crossentropy(gg.sigmoid(gg.dot(gg.take(W0, ids).sum(axis=0), W1)), 1.0).sum()
    rng = np.random.default_rng(0)
    gg.verify_grad(loss, [rng.standard_normal((5, 3)), rng.standard_normal((3, 1))])


def test_forward_matches_the_step_prediction():
    model = small_model(bias=True, lr=1e-9)
    split = Split(np.array([1, 4, 5, 0, 9], np.int32), np.array([0, 3, 5]), np.array([1, 0], np.float32))
    before = model.predict(split)
    step = model.review_step()
    for i, target in enumerate(split.labels):
        p = step(split.review(i), target)
        np.testing.assert_allclose(p, before[i:i + 1], rtol=1e-5)


# --- training ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("batch_size", [1, 8])
def test_training_separates_a_separable_corpus(toy, batch_size):
    model = SentimentNet(toy.vocab, Config(epochs=5, batch_size=batch_size, lr=0.01))
    before, _ = model.evaluate(toy.test, progress=False)
    result = model.fit(toy.train, progress=False)
    accuracy, _ = model.evaluate(toy.test, progress=False)
    assert before == 0.5  # lesson init: W0 zeros, every p is exactly 1/2 (counted as negative)
    assert accuracy == 1.0
    assert result.reviews == 5 * len(toy.train) and result.accuracy > 0.9


def test_same_seed_same_weights_and_shuffling_matters(toy):
    runs = [SentimentNet(toy.vocab, Config(seed=seed, lr=0.01)) for seed in (0, 0, 1)]
    for model in runs:
        model.fit(toy.train, progress=False)
    np.testing.assert_array_equal(runs[0].W0.get_value(), runs[1].W0.get_value())
    assert not np.array_equal(runs[0].W0.get_value(), runs[2].W0.get_value())


def test_alternate_order_shuffles_each_label_and_interleaves_them():
    labels = np.array([0] * 6 + [1] * 4, dtype=np.float32)
    order = review_order(labels, "alternate", np.random.default_rng(0))
    assert sorted(order.tolist()) == list(range(10))
    assert labels[order].tolist() == [0, 1, 0, 1, 0, 0, 1, 0, 1, 0]  # in proportion, 3:2
    assert order[labels[order] == 0].tolist() != list(range(6))  # shuffled within the label
    assert review_order(labels, "stored", np.random.default_rng(0)).tolist() == list(range(10))


def test_linear_schedule_falls_over_all_epochs_and_fit_restores_the_rate(toy):
    rates = np.concatenate(list(learning_rates(Config(lr=0.1, epochs=2, schedule="linear"), 10, 3)))
    np.testing.assert_allclose(rates, 0.1 * (1 - np.arange(8) / 8), rtol=1e-6)  # 4 chunks of 3 an epoch
    assert np.concatenate(list(learning_rates(Config(lr=0.1, epochs=2), 10, 3))).tolist() == [np.float32(0.1)] * 8
    model = SentimentNet(toy.vocab, Config(lr=0.02, epochs=2, schedule="linear", batch_size=4))
    model.fit(toy.train, progress=False)
    assert model.lr.get_value() == np.float32(0.02)


@pytest.mark.parametrize("options, message", [
    ({"hidden": 0}, "hidden"), ({"epochs": 0}, "epochs"), ({"batch_size": 0}, "batch_size"),
    ({"lr": -1.0}, "lr"), ({"init": "glorot"}, "init"), ({"order": "sorted"}, "order"),
    ({"schedule": "cosine"}, "schedule"), ({"ngrams": 0}, "ngrams"),
])
def test_bad_config_is_a_clear_error(options, message):
    with pytest.raises(ValueError, match=message):
        Config(**options)


# --- predicting text ---------------------------------------------------------------------------------

def test_predict_text_ignores_unknown_words(toy):
    model = SentimentNet(toy.vocab, Config(epochs=3, lr=0.01, bias=True))
    model.fit(toy.train, progress=False)
    known = model.predict_text("A superb, lovely film")
    assert known > 0.5
    assert model.predict_text("A superb zyzzyva, lovely qwxv film!") == known
    assert model.predict_text("zyzzyva qwxv") == pytest.approx(1 / (1 + np.exp(-model.b.get_value()[0])))
    assert model.predict_text("awful, boring plot") < 0.5


def test_reindex_maps_words_and_drops_unknown_ones():
    source = Vocabulary(["a", "b", "c", "d"], np.ones(4, dtype=np.int64))
    target = Vocabulary(["d", "x", "a"], np.ones(3, dtype=np.int64))
    split = Split(np.array([0, 1, 3, 2], np.int32), np.array([0, 3, 3, 4]), np.array([1, 0, 1], np.float32))
    mapped = reindex(split, source, target)
    assert [mapped.review(i).tolist() for i in range(3)] == [[0, 2], [], []]
    assert mapped.ids.dtype == np.int32 and mapped.labels is split.labels
    assert reindex(split, source, source) is split


# --- files ---------------------------------------------------------------------------------------------

def test_save_load_round_trip(toy, tmp_path):
    model = SentimentNet(toy.vocab, Config(hidden=3, bias=True, lr=0.01, min_count=1))
    model.fit(toy.train, progress=False)
    model.save(tmp_path / "model.npz")
    loaded = SentimentNet.load(tmp_path / "model.npz")
    assert loaded.config == model.config and loaded.vocab.words == model.vocab.words
    for name, param in model.params.items():
        np.testing.assert_array_equal(loaded.params[name].get_value(), param.get_value())
    np.testing.assert_array_equal(loaded.predict(toy.test), model.predict(toy.test))
    with np.load(tmp_path / "model.npz", allow_pickle=False) as stored:  # plain arrays only
        assert {"W0", "W1", "b", "config", "vocab_words", "format"} <= set(stored.files)


def resave(source: Path, target: Path, **changes: np.ndarray) -> Path:
    arrays = gg.load_arrays(source)
    arrays.update(changes)
    gg.save_arrays(target, {name: value for name, value in arrays.items() if value is not None})
    return target


def test_loading_a_wrong_file_is_a_clear_error(tmp_path):
    good = tmp_path / "good.npz"
    small_model(hidden=4).save(good)
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        SentimentNet.load(tmp_path / "missing.npz")
    (tmp_path / "text.npz").write_text("not a zip file")
    with pytest.raises(gg.InputTypeError, match="text.npz"):
        SentimentNet.load(tmp_path / "text.npz")
    gg.save_arrays(tmp_path / "other.npz", {"weights": np.zeros(3)})
    with pytest.raises(gg.InputTypeError, match="other.npz.*not a sentiment model"):
        SentimentNet.load(tmp_path / "other.npz")
    wrong_rows = resave(good, tmp_path / "rows.npz", W0=np.zeros((11, 4), np.float32))
    with pytest.raises(gg.ShapeError, match=r"rows.npz: 'W0' should be .*\(12, 4\).*\(11, 4\)"):
        SentimentNet.load(wrong_rows)
    wrong_kind = resave(good, tmp_path / "kind.npz", W1=np.zeros((4, 1), np.int64))
    with pytest.raises(gg.ShapeError, match="kind.npz: 'W1'"):
        SentimentNet.load(wrong_kind)
    missing = resave(good, tmp_path / "nobias.npz", config=np.array(json.dumps({"hidden": 4, "bias": True})))
    with pytest.raises(gg.InputTypeError, match="nobias.npz: missing array 'b'"):
        SentimentNet.load(missing)
    bad_config = resave(good, tmp_path / "config.npz", config=np.array(json.dumps({"hidden": 0})))
    with pytest.raises(gg.InputTypeError, match="config.npz: unreadable"):
        SentimentNet.load(bad_config)


# --- command line --------------------------------------------------------------------------------------

def test_command_line_train_evaluate_predict(tmp_path, capsys):
    folder = write_toy_folder(tmp_path)
    common = ["--data", str(folder), "--cache-dir", str(tmp_path / "cache"), "--no-progress"]
    trained = main(["train", *common, "--epochs", "4", "--hidden", "5", "--lr", "0.01", "--save",
                    str(tmp_path / "m.npz"), "--metrics-json", str(tmp_path / "train.json")])
    metrics = json.loads((tmp_path / "train.json").read_text())
    for key in ("train_accuracy", "test_accuracy", "train_reviews_per_second", "test_reviews_per_second",
                "vocab_size", "n_train", "n_test", "load_seconds", "train_seconds"):
        assert metrics[key] == trained[key]
    assert (metrics["n_train"], metrics["n_test"], metrics["test_accuracy"]) == (60, 20, 1.0)
    evaluated = main(["evaluate", *common, "--model", str(tmp_path / "m.npz"), "--limit-test", "10"])
    assert evaluated["n_test"] == 10 and evaluated["test_accuracy"] == 1.0
    predicted = main(["predict", "--model", str(tmp_path / "m.npz"), "what a superb and moving film"])
    assert predicted["label"] == "positive"
    assert "label: positive" in capsys.readouterr().out


# --- the real data set -----------------------------------------------------------------------------------

@pytest.mark.skipif(not (REAL_DATA and Path(REAL_DATA).exists()),
                    reason="set GRAPHGRAD_DATA to a copy of the IMDB data set")
def test_real_data_few_thousand_reviews(tmp_path):
    cache_dir = os.environ.get(imdb_source.CACHE_ENV) or tmp_path
    corpus = imdb.load(REAL_DATA, limit_train=4000, limit_test=2000, cache_dir=cache_dir, progress=False)
    model = SentimentNet(corpus.vocab, Config(epochs=2))
    model.fit(corpus.train, progress=False)
    accuracy, _ = model.evaluate(corpus.test, progress=False)
    assert accuracy > 0.8
