"""A deterministic corpus of short, distinct articles (one passage each) for the cache-resume test."""

from __future__ import annotations

import random

from kbrank import Article, Corpus

_WORDS = ("router camera password billing refund printer firmware channel pairing label parcel account "
          "invoice login code tray paper signal update reset light button address card order").split()


def resume_corpus(n: int) -> Corpus:
    rng = random.Random(12)
    return Corpus([Article(id=f"a{i}", title=f"Topic {i}",
                           body=" ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 12))))
                   for i in range(n)])
