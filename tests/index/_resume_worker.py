"""Builds a dense index with the real all-MiniLM-L6-v2 through an embedding cache, for a parent that kills
this process (SIGKILL) in the middle of the build (`test_embedding_cache_resume`).

    python _resume_worker.py CACHE_DIR ARTICLES FLUSH

Prints ``ENCODED <done> <total>`` after every call to the encoder (the parent waits for segments on disk).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _resume_corpus import resume_corpus  # noqa: E402

from kbrank.index import DenseIndex, SentenceTransformerEncoder  # noqa: E402


def main() -> None:
    cache_dir, articles, flush = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    index = DenseIndex(SentenceTransformerEncoder(), cache_dir=cache_dir, cache_flush=flush)
    index.build(resume_corpus(articles), progress=lambda done, total: print(f"ENCODED {done} {total}", flush=True))
    print("FINISHED", flush=True)


if __name__ == "__main__":
    main()
