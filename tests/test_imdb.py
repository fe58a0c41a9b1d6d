"""Tests of models.imdb, imdb_source and vocab on tiny corpora in tmp_path (never the network)."""
from __future__ import annotations

import math
import os
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import imdb, imdb_source
from models.vocab import Vocabulary, polarity, tokenize, with_ngrams

REAL_DATA = os.environ.get(imdb_source.DATA_ENV)  # read before the fixture below clears it
real_download_file = imdb_source.download_file

# Review files by (split, label): {id: text}. Ids 10 > 2 check numeric, not lexical, order.
REVIEWS = {
    ("train", "pos"): {0: "Great movie!<br /><br />GREAT acting.",
                       1: "A great film, don't miss it.",
                       2: "Wonderful, wonderful film.", 10: "The plot was fine; great cast."},
    ("train", "neg"): {0: "Awful movie. Awful acting!", 1: "A boring film, don't watch it.",
                       2: "Boring<br />and awful.", 10: "The plot was fine; bad cast."},
    ("test", "pos"): {0: "A great zebra movie.", 1: "Wonderful!"},
    ("test", "neg"): {0: "Awful zebra film.", 1: "Boring, boring movie."},
}
# Training counts: great 4; awful, film 3; the words below 2; and, bad, miss, watch 1.
VOCABULARY = ["great", "awful", "film", "a", "acting", "boring", "cast", "don't", "fine", "it",
              "movie", "plot", "the", "was", "wonderful", "and", "bad", "miss", "watch"]


def write_folder(root: Path, reviews: dict = REVIEWS) -> Path:
    """An aclImdb/ folder under root, with the extras of the real one that must be ignored."""
    folder = root / "aclImdb"
    for (split, label), texts in reviews.items():
        (folder / split / label).mkdir(parents=True, exist_ok=True)
        for number, text in texts.items():
            (folder / split / label / f"{number}_7.txt").write_text(text, encoding="utf-8")
    (folder / "train" / "unsup").mkdir(parents=True, exist_ok=True)
    (folder / "train" / "unsup" / "0_0.txt").write_text("unlabeled zebra", encoding="utf-8")
    (folder / "train" / "urls_pos.txt").write_text("http://www.imdb.com/title/tt0/\n")
    (folder / "imdb.vocab").write_text("zebra\n")
    return folder


def pack(folder: Path, path: Path) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        archive.add(folder, arcname="aclImdb")
    return path


def write_trask(root: Path, train: list[tuple[str, str]], test: list[tuple[str, str]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = train + test
    (root / "reviews.txt").write_text("".join(f"{text}\n" for text, _ in lines), encoding="utf-8")
    (root / "labels.txt").write_text("".join(f"{label}\n" for _, label in lines))
    return root


def quiet_load(data, tmp_path: Path, **options) -> imdb.Corpus:
    options.setdefault("cache_dir", tmp_path / "cache")
    return imdb.load(data, progress=False, **options)


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No test sees the caller's data settings or reaches the network."""
    monkeypatch.delenv(imdb_source.DATA_ENV, raising=False)
    monkeypatch.delenv(imdb_source.CACHE_ENV, raising=False)

    def no_network(url, destination, *, progress=True):
        raise AssertionError(f"a test tried to download {url}")
    monkeypatch.setattr(imdb_source, "download_file", no_network)


def assert_same_corpus(a: imdb.Corpus, b: imdb.Corpus) -> None:
    assert a.vocab.words == b.vocab.words
    np.testing.assert_array_equal(a.vocab.counts, b.vocab.counts)
    for split_a, split_b in ((a.train, b.train), (a.test, b.test)):
        for name in ("ids", "offsets", "labels"):
            np.testing.assert_array_equal(getattr(split_a, name), getattr(split_b, name))
            assert getattr(split_a, name).dtype == getattr(split_b, name).dtype


# --- tokenizer and vocabulary -------------------------------------------------------------------

@pytest.mark.parametrize("text, words", [
    ("Great movie!<br /><br />Loved it.", ["great", "movie", "loved", "it"]),
    ("end.<br />Start", ["end", "start"]),
    ("LOUD and Quiet", ["loud", "and", "quiet"]),
    ("well,this...was(bad)!", ["well", "this", "was", "bad"]),
    ("Don't; it's 10/10", ["don't", "it's", "10", "10"]),
    ("'quoted' fans' ''", ["quoted", "fans"]),
    ("rock'n'roll", ["rock'n'roll"]),
    ("_emphasis_ snake_case", ["emphasis", "snake", "case"]),
    ("Amélie, CAFÉ", ["amélie", "café"]),
    ("", []),
])
def test_tokenize(text, words):
    assert tokenize(text) == words


def test_polarity_is_the_lessons_formula():
    assert polarity(4, 0) == pytest.approx(math.log(4))
    assert polarity(1, 1) == pytest.approx(math.log(0.5 + 0.01))
    assert polarity(0, 3) == pytest.approx(math.log(0.01))
    assert polarity(2, 1) == pytest.approx(math.log(1 + 0.01))  # ratio exactly 1 is not > 1


def test_vocabulary_comes_from_training_reviews_only(tmp_path):
    corpus = quiet_load(write_folder(tmp_path), tmp_path)
    assert corpus.vocab.words == VOCABULARY
    assert corpus.vocab.counts.tolist() == [4, 3, 3] + [2] * 12 + [1] * 4
    assert "zebra" not in corpus.vocab  # test-only (and unsup/) word
    # "A great zebra movie."
    assert corpus.vocab.decode(corpus.test.review(2)) == ["great", "a", "movie"]


def test_with_ngrams_appends_runs_of_words():
    assert with_ngrams(["a", "b", "c"], 1) == ["a", "b", "c"]
    assert with_ngrams(["a", "b", "c"], 3) == ["a", "b", "c", "a b", "b c", "a b c"]
    assert with_ngrams(["a"], 2) == ["a"]


def test_bigrams_join_the_vocabulary_and_the_reviews(tmp_path):
    folder = write_folder(tmp_path)
    words = quiet_load(folder, tmp_path)
    pairs = quiet_load(folder, tmp_path, ngrams=2, min_count=2)
    assert pairs.cache_path != words.cache_path
    assert "great" in pairs.vocab and "the plot" in pairs.vocab and "great movie" not in pairs.vocab
    # "The plot was fine; great cast.": "fine great" and "great cast" occur once
    assert sorted(pairs.vocab.decode(pairs.train.review(7))) == [
        "cast", "fine", "great", "plot", "plot was", "the", "the plot", "was", "was fine"]
    assert pairs.vocab.encode("the plot, the plot", ngrams=2).tolist() == sorted(
        pairs.vocab.index[w] for w in ["the", "plot", "the plot"])
    with pytest.raises(ValueError, match="ngrams"):
        quiet_load(folder, tmp_path, ngrams=0)


def test_min_count_drops_rare_words(tmp_path):
    corpus = quiet_load(write_folder(tmp_path), tmp_path, min_count=3)
    assert corpus.vocab.words == ["great", "awful", "film"]
    assert corpus.vocab.decode(corpus.train.review(0)) == ["awful"]  # "Awful movie. Awful acting!"


def test_polarity_cutoff_drops_neutral_words(tmp_path):
    # great log 4 = 1.39; awful, boring, and, bad, watch log 0.01 = -4.6; wonderful log 2 = 0.69;
    # film log 1.01; words seen once in each label log 0.51 = -0.67; miss log 1.01.
    folder = write_folder(tmp_path)
    pruned = quiet_load(folder, tmp_path, polarity_cutoff=0.7)
    assert pruned.vocab.words == ["great", "awful", "boring", "and", "bad", "watch"]
    both = quiet_load(folder, tmp_path, polarity_cutoff=0.7, min_count=2)
    assert both.vocab.words == ["great", "awful", "boring"]


def test_reviews_are_sorted_unique_ids_in_a_fixed_order(tmp_path):
    corpus = quiet_load(write_folder(tmp_path), tmp_path)
    for split, name in ((corpus.train, "train"), (corpus.test, "test")):
        expected = [(label, REVIEWS[name, folder][number])
                    for label, folder in ((0, "neg"), (1, "pos"))
                    for number in sorted(REVIEWS[name, folder])]
        assert split.labels.tolist() == [label for label, _ in expected]
        assert split.ids.dtype == np.int32 and split.offsets.dtype == np.int64
        assert split.labels.dtype == np.float32 and len(split.offsets) == len(split) + 1
        for i, (_, text) in enumerate(expected):
            ids = split.review(i)
            np.testing.assert_array_equal(ids, corpus.vocab.encode(text))
            assert np.all(np.diff(ids) > 0)  # sorted and unique
    assert corpus.vocab.decode(corpus.train.review(4)) == ["great", "acting", "movie"]


def test_encode_ignores_unknown_words():
    vocab = Vocabulary(["great", "movie"], np.array([2, 1]))
    np.testing.assert_array_equal(vocab.encode("Movie zebra GREAT movie, great!"), [0, 1])
    assert vocab.encode("nothing known here").dtype == np.int32
    assert vocab.encode("").shape == (0,)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_encode_any_text_gives_sorted_unique_known_ids(text):
    vocab = Vocabulary(["a", "the", "don't", "é", "10"], np.array([5, 4, 3, 2, 1]))
    ids = vocab.encode(text)
    assert ids.dtype == np.int32
    assert np.all(np.diff(ids) > 0) and np.all((ids >= 0) & (ids < len(vocab)))
    assert set(vocab.decode(ids)) == set(tokenize(text)) & set(vocab.words)


# --- sources ------------------------------------------------------------------------------------

def test_folder_and_tarball_give_identical_corpora(tmp_path):
    folder = write_folder(tmp_path / "extracted")
    tarball = pack(folder, tmp_path / "aclImdb_v1.tar.gz")
    from_folder = quiet_load(folder, tmp_path, cache=False)
    assert_same_corpus(from_folder, quiet_load(tarball, tmp_path, cache=False))
    assert_same_corpus(from_folder, quiet_load(folder.parent, tmp_path, cache=False))
    assert len(from_folder.train) == 8 and len(from_folder.test) == 4


def test_trask_pair_splits_off_the_last_1000_lines(tmp_path):
    def lines(split):
        return [(REVIEWS[split, folder][number], label)
                for folder, label in (("neg", "negative"), ("pos", "positive"))
                for number in sorted(REVIEWS[split, folder])]
    root = write_trask(tmp_path / "trask", lines("train"), lines("test") * 250)
    folder_corpus = quiet_load(write_folder(tmp_path), tmp_path)
    for data in (root, root / "reviews.txt", root / "labels.txt"):
        corpus = quiet_load(data, tmp_path)
        assert corpus.vocab.words == folder_corpus.vocab.words
        np.testing.assert_array_equal(corpus.train.ids, folder_corpus.train.ids)
        np.testing.assert_array_equal(corpus.train.labels, folder_corpus.train.labels)
        assert len(corpus.test) == imdb_source.TRASK_TEST_SIZE and corpus.test.labels.sum() == 500


def test_limits_take_a_balanced_deterministic_sample(tmp_path):
    folder = write_folder(tmp_path)
    corpus = quiet_load(folder, tmp_path, limit_train=5, limit_test=2)
    assert corpus.train.labels.tolist() == [0, 0, 1, 1, 1]
    assert corpus.test.labels.tolist() == [0, 1]
    kept = set(corpus.vocab.words)
    assert kept < set(VOCABULARY)  # built from the sample only
    again = quiet_load(folder, tmp_path, limit_train=5, limit_test=2, cache=False)
    assert_same_corpus(corpus, again)
    assert len(quiet_load(folder, tmp_path, limit_train=100).train) == 8
    with pytest.raises(ValueError, match="limit_test must be"):
        quiet_load(folder, tmp_path, limit_test=-1)


def test_batch_and_subset(tmp_path):
    split = quiet_load(write_folder(tmp_path), tmp_path).train
    ids, segments, labels = split.batch([5, 0, 5])
    lengths = [len(split.review(i)) for i in (5, 0, 5)]
    np.testing.assert_array_equal(ids, np.concatenate([split.review(i) for i in (5, 0, 5)]))
    np.testing.assert_array_equal(segments, np.repeat([0, 1, 2], lengths))
    assert segments.dtype == np.int32 and labels.tolist() == [1, 0, 1]
    subset = split.subset([7, 1])
    assert len(subset) == 2 and subset.labels.tolist() == [1, 0]
    np.testing.assert_array_equal(subset.review(1), split.review(1))
    empty_ids, empty_segments, _ = split.batch([])
    assert empty_ids.shape == empty_segments.shape == (0,)


def test_split_validation_holds_out_a_balanced_seeded_part(tmp_path):
    split = quiet_load(write_folder(tmp_path), tmp_path).train
    train, valid = imdb.split_validation(split, 0.5, seed=3)
    assert len(train) == len(valid) == 4
    assert train.labels.sum() == valid.labels.sum() == 2
    rows = {tuple(split.review(i)) for i in range(len(split))}
    assert {tuple(part.review(i)) for part in (train, valid) for i in range(len(part))} == rows
    again_train, _ = imdb.split_validation(split, 0.5, seed=3)
    np.testing.assert_array_equal(again_train.ids, train.ids)
    with pytest.raises(ValueError, match="fraction"):
        imdb.split_validation(split, 1.0)


# --- cache --------------------------------------------------------------------------------------

def test_cache_round_trip_and_key(tmp_path):
    tarball = pack(write_folder(tmp_path), tmp_path / "aclImdb.tar.gz")
    cold = quiet_load(tarball, tmp_path)
    assert not cold.from_cache and cold.cache_path.exists() and cold.load_seconds > 0
    cached = quiet_load(tarball, tmp_path)
    assert cached.from_cache and cached.cache_path == cold.cache_path
    assert_same_corpus(cold, cached)
    with np.load(cold.cache_path, allow_pickle=False) as stored:
        assert all(stored[name].dtype != object for name in stored.files)

    other = quiet_load(tarball, tmp_path, min_count=2)
    assert not other.from_cache and other.cache_path != cold.cache_path
    assert quiet_load(tarball, tmp_path, limit_test=2).cache_path != cold.cache_path
    assert quiet_load(tarball, tmp_path, polarity_cutoff=0.5).cache_path != cold.cache_path
    assert quiet_load(tarball, tmp_path).from_cache

    os.utime(tarball, ns=(1, 1))  # a changed source invalidates its cache
    assert not quiet_load(tarball, tmp_path).from_cache
    assert quiet_load(tarball, tmp_path).from_cache


def test_damaged_cache_is_rebuilt(tmp_path):
    folder = write_folder(tmp_path)
    cold = quiet_load(folder, tmp_path)
    cold.cache_path.write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="unreadable cache"):
        rebuilt = quiet_load(folder, tmp_path)
    assert not rebuilt.from_cache
    assert_same_corpus(cold, rebuilt)
    assert quiet_load(folder, tmp_path).from_cache


def test_no_cache_writes_nothing(tmp_path):
    corpus = quiet_load(write_folder(tmp_path), tmp_path, cache=False)
    assert corpus.cache_path is None and not corpus.from_cache
    assert not (tmp_path / "cache").exists()


# --- bad input ----------------------------------------------------------------------------------

def test_missing_path(tmp_path):
    message = r"nowhere: no such file or folder \(given by the data path \(--data\)\)"
    with pytest.raises(FileNotFoundError, match=message):
        quiet_load(tmp_path / "nowhere", tmp_path)


def test_not_a_dataset(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    for path in (tmp_path, tmp_path / "notes.txt"):
        with pytest.raises(imdb.DataFormatError, match="expected aclImdb_v1.tar.gz"):
            quiet_load(path, tmp_path)


def test_missing_label_folder(tmp_path):
    folder = write_folder(tmp_path, {key: texts for key, texts in REVIEWS.items()
                                     if key != ("train", "pos")})
    with pytest.raises(imdb.DataFormatError, match=r"train/pos: missing \(expected aclImdb/"):
        quiet_load(folder, tmp_path)
    (folder / "train" / "pos").mkdir()
    with pytest.raises(imdb.DataFormatError, match=r"no reviews in train/pos/ \(expected aclImdb/"):
        quiet_load(folder, tmp_path)
    tarball = pack(folder, tmp_path / "aclImdb.tar.gz")
    with pytest.raises(imdb.DataFormatError, match=r"aclImdb.tar.gz: no reviews in train/pos/"):
        quiet_load(tarball, tmp_path)


def test_unreadable_archive(tmp_path):
    garbage = tmp_path / "aclImdb_v1.tar.gz"
    garbage.write_bytes(b"this is not a tarball")
    with pytest.raises(imdb.DataFormatError, match="aclImdb_v1.tar.gz: not a readable .tar.gz"):
        quiet_load(garbage, tmp_path)
    whole = pack(write_folder(tmp_path), tmp_path / "whole.tar.gz").read_bytes()
    for cut in (0.25, 0.5, 0.75):  # regression: truncated at a member boundary, it once read "fine"
        garbage.write_bytes(whole[: int(len(whole) * cut)])
        with pytest.raises(imdb.DataFormatError, match="not a readable .tar.gz"):
            quiet_load(garbage, tmp_path)


@pytest.mark.parametrize("content, message", [
    (b"", r"empty review \(expected the text of a review\)"),
    (b" \n\t", "empty review"),
    (b"caf\xe9 latin-1", r"not valid UTF-8 \(byte 3: invalid continuation byte\)"),
])
def test_bad_review_file_names_the_file(tmp_path, content, message):
    folder = write_folder(tmp_path)
    (folder / "test" / "neg" / "7_1.txt").write_bytes(content)
    with pytest.raises(imdb.DataFormatError, match=f"test/neg/7_1.txt: {message}"):
        quiet_load(folder, tmp_path)
    tarball = pack(folder, tmp_path / "aclImdb.tar.gz")
    with pytest.raises(imdb.DataFormatError,
                       match=f"aclImdb.tar.gz:aclImdb/test/neg/7_1.txt: {message}"):
        quiet_load(tarball, tmp_path)


def test_trask_errors(tmp_path):
    train = [("good", "positive"), ("bad", "negative")]
    test = [("fine", "positive")] * imdb_source.TRASK_TEST_SIZE
    root = write_trask(tmp_path / "mismatch", train, test)
    with (root / "labels.txt").open("a") as labels:
        labels.write("negative\n")
    with pytest.raises(imdb.DataFormatError,
                       match=r"labels.txt: 1003 labels for the 1002 reviews of .*reviews.txt"):
        quiet_load(root, tmp_path)

    root = write_trask(tmp_path / "unknown", [("good", "positive"), ("meh", "neutral")], test)
    with pytest.raises(imdb.DataFormatError, match=r"labels.txt, line 2: unknown label 'neutral' "
                                                   r"\(expected 'positive' or 'negative'\)"):
        quiet_load(root, tmp_path)

    root = write_trask(tmp_path / "empty", [("good", "positive"), ("", "negative")], test)
    with pytest.raises(imdb.DataFormatError, match="reviews.txt, line 2: empty review"):
        quiet_load(root, tmp_path)

    root = write_trask(tmp_path / "short", train, [])
    with pytest.raises(imdb.DataFormatError, match="2 reviews, expected more than 1000"):
        quiet_load(root, tmp_path)

    (root / "labels.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"labels.txt: missing"):
        quiet_load(root / "reviews.txt", tmp_path)


# --- where the data comes from ------------------------------------------------------------------

def test_resolution_order(tmp_path, monkeypatch):
    explicit, from_env = tmp_path / "explicit.tar.gz", tmp_path / "env.tar.gz"
    cache = tmp_path / "cache"
    for path in (explicit, from_env, cache / "aclImdb.tar.gz", cache / "aclImdb_v1.tar.gz"):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"")
    (cache / "aclImdb").mkdir()
    monkeypatch.setenv(imdb_source.DATA_ENV, str(from_env))
    assert imdb.resolve_data_path(explicit, cache_dir=cache) == explicit
    assert imdb.resolve_data_path(None, cache_dir=cache) == from_env
    monkeypatch.delenv(imdb_source.DATA_ENV)
    assert imdb.resolve_data_path(None, cache_dir=cache) == cache / "aclImdb_v1.tar.gz"
    (cache / "aclImdb_v1.tar.gz").unlink()
    assert imdb.resolve_data_path(None, cache_dir=cache) == cache / "aclImdb.tar.gz"
    (cache / "aclImdb.tar.gz").unlink()
    assert imdb.resolve_data_path(None, cache_dir=cache) == cache / "aclImdb"


def test_missing_environment_path(tmp_path, monkeypatch):
    monkeypatch.setenv(imdb_source.DATA_ENV, str(tmp_path / "gone"))
    with pytest.raises(FileNotFoundError,
                       match=r"gone: no such file or folder \(given by GRAPHGRAD_DATA\)"):
        imdb.resolve_data_path(None, cache_dir=tmp_path)


def test_default_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert imdb.default_cache_dir() == tmp_path / ".cache" / "graphgrad"
    monkeypatch.setenv(imdb_source.CACHE_ENV, str(tmp_path / "elsewhere"))
    assert imdb.default_cache_dir() == tmp_path / "elsewhere"


def test_downloads_into_the_cache_when_nothing_is_found(tmp_path, monkeypatch):
    tarball = pack(write_folder(tmp_path / "upstream"), tmp_path / "upstream.tar.gz")
    calls = []

    def fake_download(url, destination, *, progress=True):
        calls.append((url, destination))
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(tarball.read_bytes())
    monkeypatch.setattr(imdb_source, "download_file", fake_download)
    monkeypatch.setenv(imdb_source.CACHE_ENV, str(tmp_path / "cache"))
    corpus = imdb.load(progress=False)
    assert calls == [(imdb_source.URL, tmp_path / "cache" / "aclImdb_v1.tar.gz")]
    assert corpus.source == tmp_path / "cache" / "aclImdb_v1.tar.gz" and len(corpus.train) == 8
    assert imdb.load(progress=False).from_cache and len(calls) == 1


def test_offline_with_nothing_found_says_how_to_point_at_a_copy(tmp_path, monkeypatch):
    def offline_download(url, destination, *, progress=True):
        raise urllib.error.URLError("Temporary failure in name resolution")
    monkeypatch.setattr(imdb_source, "download_file", offline_download)
    with pytest.raises(FileNotFoundError) as error:
        imdb.load(cache_dir=tmp_path / "cache", progress=False)
    message = str(error.value)
    for part in ("--data PATH", "GRAPHGRAD_DATA=PATH", str(tmp_path / "cache"), imdb_source.URL,
                 "Temporary failure in name resolution"):
        assert part in message


def test_download_file_is_atomic(tmp_path):
    source = tmp_path / "upstream.bin"
    source.write_bytes(os.urandom(3 << 20))
    destination = tmp_path / "cache" / "aclImdb_v1.tar.gz"
    real_download_file(source.as_uri(), destination, progress=False)
    assert destination.read_bytes() == source.read_bytes()
    assert os.listdir(destination.parent) == [destination.name]
    with pytest.raises(OSError):
        real_download_file((tmp_path / "missing").as_uri(), tmp_path / "cache" / "other",
                           progress=False)
    assert os.listdir(destination.parent) == [destination.name]


# --- the real data set --------------------------------------------------------------------------

@pytest.mark.skipif(not (REAL_DATA and Path(REAL_DATA).exists()),
                    reason="set GRAPHGRAD_DATA to a copy of the IMDB data set")
def test_real_data_set_sample(tmp_path):
    corpus = imdb.load(REAL_DATA, limit_train=200, limit_test=200, cache_dir=tmp_path,
                       progress=False)
    assert len(corpus.train) == len(corpus.test) == 200
    assert corpus.train.labels.sum() == corpus.test.labels.sum() == 100
    assert len(corpus.vocab) > 1000
    assert all(np.all(np.diff(corpus.train.review(i)) > 0) for i in range(len(corpus.train)))
