"""Draw the sentiment network's compiled training step (``gg.to_dot``) as docs/sentiment_graph.png
and .svg, with the vocabulary of the IMDB training split, so that ``W0`` shows its real shape.

Usage, from the repository root: ``python -m docs.make_sentiment_graph --data
../shared/data/aclImdb.tar.gz``. Needs Graphviz's ``dot`` program, an optional extra (``apt-get
install graphviz``), not a dependency of graphgrad.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import graphgrad as gg
from models import imdb
from models.sentiment import Config, SentimentNet


def render(dot_text: str, stem: Path) -> list[Path]:
    """Write ``stem``.png and ``stem``.svg rendered from ``dot_text``; returns their paths."""
    if shutil.which("dot") is None:
        raise RuntimeError("Graphviz's 'dot' program is not installed (e.g. apt-get install graphviz)")
    paths = []
    for fmt in ("png", "svg"):
        path = stem.with_suffix(f".{fmt}")
        subprocess.run(["dot", f"-T{fmt}", "-Gdpi=110", "-o", str(path)], input=dot_text, text=True, check=True)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> list[Path]:
    """Build the per-review training step on the corpus's vocabulary and render it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="tarball, aclImdb/ folder or reviews.txt (as models.sentiment)")
    parser.add_argument("--cache-dir", help="corpus cache folder (as models.sentiment)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "sentiment_graph",
                        help="output path without suffix (default: docs/sentiment_graph)")
    args = parser.parse_args(argv)
    corpus = imdb.load(args.data, cache_dir=args.cache_dir, progress=False)
    step = SentimentNet(corpus.vocab, Config()).review_step()
    paths = render(gg.to_dot(step), args.out)
    print("wrote", *paths)
    return paths


if __name__ == "__main__":
    main()
