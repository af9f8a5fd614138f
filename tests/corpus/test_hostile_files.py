"""Files a careless or hostile user hands over: byte order marks, bad bytes deep in a file, nesting a hundred
thousand levels deep, lone surrogates, numbers out of range. Each is a kbrank error naming the exact line, or
a success; none is a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kbrank import Corpus
from kbrank.cli import main
from kbrank.errors import CorpusError, ProfileError
from kbrank.privacy import ProfileGateway

GOOD = json.dumps({"id": "kb-1", "title": "Reset the router"})


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "kb.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode() + b"\n")
    assert Corpus.from_jsonl(path).ids == ("kb-1",)


def test_a_bad_byte_is_reported_on_its_own_line(tmp_path: Path) -> None:
    path = tmp_path / "kb.jsonl"
    lines = [json.dumps({"id": f"kb-{i}", "title": "é" * (i % 7)}).encode() for i in range(2999)]
    path.write_bytes(b"\n".join(lines) + b"\n" + b'{"id": "x", "title": "\xff"}\n')
    with pytest.raises(CorpusError, match=r"line 3000: not valid UTF-8"):
        Corpus.from_jsonl(path)


def test_deep_nesting_is_an_error_for_a_corpus_and_a_profile(tmp_path: Path, capsys) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    corpus = tmp_path / "kb.jsonl"
    corpus.write_text(GOOD + "\n" + deep + "\n")
    with pytest.raises(CorpusError, match="line 2: JSON nested too deeply"):
        Corpus.from_jsonl(corpus)
    corpus.write_text(GOOD + "\n")
    assert main(["index", str(corpus), "--out", str(tmp_path / "idx"), "--mode", "bm25"]) == 0
    profile = tmp_path / "customers.jsonl"
    profile.write_text(deep + "\n")
    assert main(["search", str(tmp_path / "idx"), "router", "--profile", str(profile)]) == 2
    assert "line 1: JSON nested too deeply" in capsys.readouterr().err


def test_a_lone_surrogate_in_an_id_is_refused_at_load_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "kb.jsonl"
    path.write_text(GOOD + "\n" + '{"id": "kb-\\ud800"}' + "\n")
    with pytest.raises(CorpusError, match="line 2: a string holds a lone UTF-16 surrogate"):
        Corpus.from_jsonl(path)
    with pytest.raises(CorpusError, match="line 1, field 'id': the text holds a lone UTF-16 surrogate"):
        Corpus.from_records([{"id": "kb-\ud800"}])


@pytest.mark.parametrize(("usage", "field"), [
    ({"timestamp": "9999-12-31T23:59:59-23:59"}, "usage[0].timestamp"),
    ({"timestamp": "2026-10-01T00:00:00Z", "count": 10**30}, "usage[0].count"),
    ({"timestamp": "2026-10-01T00:00:00Z", "count": 1e300}, "usage[0].count"),
])
def test_numbers_out_of_range_in_profiles_are_profile_errors(usage: dict, field: str) -> None:
    record = {"customer_id": "c1", "usage": [{"product": "p", "feature": "f", **usage}]}
    with ProfileGateway.in_memory(key="k" * 32) as gateway, pytest.raises(ProfileError) as caught:
        gateway.load_records([record])
    assert caught.value.field == field and "Fix:" in str(caught.value)
