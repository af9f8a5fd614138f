"""Index a knowledge base from JSONL, save it, load it back and search it.

Run: python examples/index_jsonl.py  (BM25 only, so it needs no embedding model and runs in about a second)
"""

import tempfile
from pathlib import Path

from kbrank import Corpus, Searcher

ARTICLES = Path(__file__).parent / "data" / "articles.jsonl"  # one JSON object per line: id, title, body, ...

corpus = Corpus.from_jsonl(ARTICLES)  # validated: a bad record stops the load with file, line, field and fix
print(f"loaded {len(corpus)} articles from {ARTICLES.name}")

searcher = Searcher(mode="bm25").build(corpus)  # mode="hybrid" adds MiniLM embeddings, fused with BM25

with tempfile.TemporaryDirectory() as tmp:
    folder = Path(tmp) / "kb-index"
    searcher.save(folder)  # manifest.json + .npy arrays + the corpus as JSONL; atomic, never pickled
    files = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    print(f"saved to kb-index: {len(files)} files, manifest.json included: {'manifest.json' in files}")
    loaded = Searcher.load(folder)  # checksums and array shapes are verified before anything is searched

for query in ("wifi keeps dropping", "error E-102"):
    results = loaded.search(query, k=3)
    print(f"\nquery: {query!r} ({results.mode}, {len(results)} results)")
    for result in results:
        print(f"  {result.rank}. {result.article_id}  {result.title}  (score {result.score:.3f})")
    print(f"  same ranking as before saving: {results.ids == searcher.search(query, k=3).ids}")
