"""The embedding cache commits as it goes: a build killed mid-way resumes where it stopped.

The kill test runs a real subprocess that builds with the real all-MiniLM-L6-v2 and is killed with SIGKILL
while it encodes; the rebuild counts what it encodes with a counting wrapper around the real encoder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _dense_helpers import CountingEncoder, HashEncoder, minilm  # noqa: F401 (fixture)
from _resume_corpus import resume_corpus

from kbrank.errors import ParameterError
from kbrank.index import DenseIndex, EmbeddingCache
from kbrank.index.embedding_cache import encode_documents

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"


class _BatchedHash(HashEncoder):
    """`HashEncoder` (a fast fake, named as such) with a batch size, recording each call's texts."""

    batch_size = 4

    def __init__(self) -> None:
        super().__init__(dim=8)
        self.calls: list[list[str]] = []

    def encode_documents(self, texts):
        self.calls.append(list(texts))
        return super().encode_documents(texts)


def _segments(folder: Path) -> int:
    return len(list(folder.glob("*/seg.*.jsonl"))) if folder.is_dir() else 0


def test_texts_are_encoded_longest_first_in_batch_multiples_and_committed_as_they_go(tmp_path) -> None:
    texts = [f"c{i % 7} " + "word " * ((i * 37) % 23) for i in range(50)] + ["c1 dup"] * 3
    encoder = _BatchedHash()
    vectors = encode_documents(encoder, texts, cache_dir=tmp_path, flush_every=9)
    # one sort over all texts (not per call), each distinct text once, calls a multiple of the batch size
    seen = [t for call in encoder.calls for t in call]
    assert sorted(seen) == sorted(set(texts))
    assert [len(t) for t in seen] == sorted((len(t) for t in seen), reverse=True)
    assert [len(c) for c in encoder.calls[:-1]] == [8] * (len(encoder.calls) - 1)
    # calls of 8 (flush_every 9 rounded down to the batch size); a commit once 9 or more wait, and at the end
    assert _segments(tmp_path) == (len(encoder.calls) + 1) // 2
    np.testing.assert_array_equal(vectors, HashEncoder(dim=8).encode_documents(texts))
    again = _BatchedHash()
    np.testing.assert_array_equal(encode_documents(again, texts, cache_dir=tmp_path), vectors)
    assert again.calls == []


def test_flush_every_is_checked() -> None:
    with pytest.raises(ParameterError, match="flush_every must be an integer >= 1; got 0"):
        encode_documents(HashEncoder(), ["a"], flush_every=0)
    with pytest.raises(ParameterError, match="cache_flush must be an integer >= 1"):
        DenseIndex(HashEncoder(), cache_flush=-1).build(resume_corpus(2))


@pytest.mark.slow
def test_a_killed_build_resumes_where_it_stopped(minilm, tmp_path) -> None:
    articles, flush = 800, 32
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cache, log = tmp_path / "cache", tmp_path / "child.log"
    with open(log, "w") as out:
        child = subprocess.Popen([sys.executable, str(HERE / "_resume_worker.py"), str(cache), str(articles),
                                  str(flush)], env=env, stdout=out, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 300
            while _segments(cache) < 3 and child.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=60)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    output = log.read_text()
    assert child.returncode == -signal.SIGKILL and "FINISHED" not in output, output[-500:]
    cached = len(EmbeddingCache(cache, fingerprint=minilm.fingerprint, dim=384))
    assert flush * 3 <= cached < articles  # three or more commits survived the kill, the rest did not happen
    counting = CountingEncoder(minilm)
    resumed = DenseIndex(counting, cache_dir=cache, cache_flush=flush).build(resume_corpus(articles))
    assert resumed.n_vectors == articles
    assert counting.documents == articles - cached  # only the remainder is encoded
    # cached and newly encoded rows alike hold the vectors a plain encode gives (a sample of 64 rows)
    rows = np.random.default_rng(0).choice(articles, 64, replace=False)
    plain = minilm.encode_documents([resumed.passage_text(int(r)) for r in rows])
    assert np.einsum("ij,ij->i", resumed.vectors()[rows], plain).min() > 0.99999
