"""Tokenizer and vocabulary for bag-of-words models: text -> sorted unique word ids.

Tokenizing: lowercase, drop the ``<br />`` line breaks IMDB reviews contain, then take the runs of
letters and digits (any script, so "amélie" stays one word; underscores are separators), joined by
single inner apostrophes: ``"Don't STOP!<br />'Great'"`` -> ``["don't", "stop", "great"]``.

Vocabulary (built from training reviews only):
- ``count(w)``: occurrences of ``w`` in the training reviews (every one, not once per review).
- ``min_count``: keep ``w`` only if ``count(w) >= min_count`` (Trask's lesson: ``> min_count``).
- ``polarity_cutoff``: keep ``w`` only if ``|polarity(w)| >= polarity_cutoff``, with the lesson's
  score: ``r = pos(w) / (neg(w) + 1)``, ``pos``/``neg`` counting occurrences in positive / negative
  reviews, and ``polarity = log(r)`` if ``r > 1`` else ``log(r + 0.01)``. Unlike the lesson (which
  scores only words seen at least 50 times), every word passing ``min_count`` is scored.
  ``polarity_cutoff=0`` keeps every word.
- Word ids: by descending count, then alphabetically, so id 0 is the most frequent word.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

# Bump whenever tokenize() changes: it is part of the corpus cache key.
TOKENIZER_VERSION = 1

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def tokenize(text: str) -> list[str]:
    """Split ``text`` into lowercase words (see the module docstring for the exact rule)."""
    return _WORD.findall(text.lower().replace("<br />", " "))


def with_ngrams(words: list[str], ngrams: int) -> list[str]:
    """``words`` followed by their runs of 2 to ``ngrams`` words, each joined by a space (a space
    never occurs inside a word, so an n-gram cannot collide with a word)."""
    return words + [" ".join(words[i:i + n]) for n in range(2, ngrams + 1) for i in range(len(words) - n + 1)]


def polarity(positive: int, negative: int) -> float:
    """Trask's positive-to-negative score of a word seen ``positive``/``negative`` times."""
    ratio = positive / (negative + 1)
    return math.log(ratio) if ratio > 1 else math.log(ratio + 0.01)


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """Words and their training counts; a word's id is its position in ``words``."""

    words: list[str]
    counts: np.ndarray  # int64, occurrences of each word in the training reviews
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {word: i for i, word in enumerate(self.words)})

    @classmethod
    def build(cls, positive: Mapping[str, int], negative: Mapping[str, int], *,
              min_count: int = 0, polarity_cutoff: float = 0.0) -> Vocabulary:
        """The vocabulary of words counted in positive and negative training reviews."""
        total = Counter(positive)
        total.update(negative)
        kept = [word for word, count in total.items()
                if count >= min_count
                and abs(polarity(positive.get(word, 0), negative.get(word, 0))) >= polarity_cutoff]
        kept.sort(key=lambda word: (-total[word], word))
        return cls(kept, np.array([total[word] for word in kept], dtype=np.int64))

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def encode(self, text: str, ngrams: int = 1) -> np.ndarray:
        """The sorted unique ids (int32) of the words (and n-grams up to ``ngrams`` words, see
        ``with_ngrams``) of ``text`` in the vocabulary (others are skipped)."""
        index = self.index
        return np.array(sorted({index[word] for word in with_ngrams(tokenize(text), ngrams) if word in index}),
                        dtype=np.int32)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The words with the given ids."""
        return [self.words[i] for i in ids]
