"""What a cold ``kbrank search`` on a saved BM25 index does, checked structurally (never timed): in a fresh
process it imports no encoder, faiss, pandas, Spark or scikit-learn, reads the corpus file in full exactly
once (its checksum, which also finds where each line starts) and parses only the articles it shows.

The child process runs the real command (`kbrank.cli.main`) under a small wrapper that counts the bytes read
from the corpus file through Python's file objects and the articles parsed (`kbrank.corpus.io._parse`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kbrank import Article, Corpus
from kbrank.searcher import Searcher

SRC = Path(__file__).resolve().parents[1] / "src"
#: Never imported by a cold ``kbrank search`` (numba: one query is answered by numpy, see `BM25Index.load`).
HEAVY = ("torch", "sentence_transformers", "transformers", "faiss", "pandas", "pyspark", "sklearn", "jinja2", "numba",
         "llvmlite")

WRAPPER = r"""
import builtins, io, json, os, sys

corpus_file, argv = sys.argv[1], sys.argv[2:]
counts = {"opens": 0, "bytes": 0, "parsed": 0}


class CountingReader(io.BufferedReader):
    def read(self, size=-1):
        data = super().read(size)
        counts["bytes"] += len(data)
        return data

    def read1(self, size=-1):
        data = super().read1(size)
        counts["bytes"] += len(data)
        return data

    def readinto(self, buffer):
        n = super().readinto(buffer)
        counts["bytes"] += n or 0
        return n

    def readline(self, size=-1):
        data = super().readline(size)
        counts["bytes"] += len(data)
        return data

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line


real_open = builtins.open


def counting_open(file, mode="r", *args, **kwargs):
    if isinstance(file, (str, os.PathLike)) and os.path.abspath(os.fspath(file)) == corpus_file:
        counts["opens"] += 1
        if mode == "rb" and not args and not kwargs:
            return CountingReader(io.FileIO(file, "rb"))
        raise AssertionError(f"the corpus file was opened with mode {mode!r}")
    return real_open(file, mode, *args, **kwargs)


builtins.open = counting_open

import kbrank.corpus.io as corpus_io

real_parse = corpus_io._parse


def counting_parse(*args, **kwargs):
    counts["parsed"] += 1
    return real_parse(*args, **kwargs)


corpus_io._parse = counting_parse

from kbrank.cli import main

code = main(argv)
sys.stdout.flush()
print("\nCOUNTS " + json.dumps({**counts, "code": code, "modules": sorted(sys.modules)}))
"""


def _articles(n: int) -> list[Article]:
    topics = ["router wifi drops", "camera pairing fails", "billing address change", "printer error E-04",
              "firmware update stuck", "password reset link"]
    return [Article(id=f"kb-{i}", title=f"{topics[i % len(topics)].title()} ({i})",
                    body=f"{topics[i % len(topics)]} on model X{100 + i % 7}; steps {i}",
                    products=(f"router-x{100 + i % 7}",), versions={f"router-x{100 + i % 7}": ">=1.0"})
            for i in range(n)]


def _run(index: Path, *args: str) -> dict:
    corpus_file = next(index.glob("corpus.*.jsonl")).resolve()
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-c", WRAPPER, str(corpus_file), "search", str(index), *args],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    output, _, counts = done.stdout.rpartition("\nCOUNTS ")
    result = json.loads(counts)
    result["output"], result["size"] = output, corpus_file.stat().st_size
    return result


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cold") / "idx"
    Searcher(mode="bm25").build(Corpus(_articles(300))).save(path)
    return path


def test_a_cold_bm25_search_imports_nothing_heavy_and_reads_the_corpus_once(index: Path) -> None:
    run = _run(index, "printer error", "-k", "4", "--json")
    assert run["code"] == 0
    found = json.loads(run["output"])["results"]
    reference = Searcher.load(index).search("printer error", k=4)  # the same answer as in this process
    assert [r["id"] for r in found] == [r.article_id for r in reference] and len(found) == 4
    assert all(r["title"].startswith("Printer Error E-04") for r in found)
    assert [m for m in HEAVY + ("scipy",) if m in run["modules"]] == []
    assert run["bytes"] == run["size"] and run["opens"] == 2  # one full read (checksum + lines), one memory map
    assert run["parsed"] == 4  # only the articles shown


def test_a_cold_personalized_search_parses_only_the_articles_it_shows(index: Path, tmp_path: Path) -> None:
    profile = tmp_path / "customer.json"
    profile.write_text(json.dumps({"customer_id": "c1", "region": "eu", "consents": {"personalization": True},
                                   "owned": [{"product": "router-x103", "version": "2.0"}]}))
    run = _run(index, "router wifi drops", "-k", "3", "--json", "--profile", str(profile))
    assert run["code"] == 0
    payload = json.loads(run["output"])
    assert payload["personalized"] is True and len(payload["results"]) == 3
    assert run["bytes"] == run["size"] and run["parsed"] == 3  # the shown ones: the applicability is stored compiled
    assert [m for m in HEAVY if m in run["modules"]] == []
