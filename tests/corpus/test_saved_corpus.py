"""The saved corpus of an index directory, read lazily: the same articles as the corpus that was saved, each
parsed on first use; crafted id lists and lines refused with `IndexFormatError`; indexes saved before the
``corpus_ids`` file existed still load; a loaded searcher fits its personalizer only when it personalizes (on
the applicability saved beside the corpus, see test_saved_applicability.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from kbrank import Article, Corpus, IndexFormatError
from kbrank.corpus.io import saved_applicability
from kbrank.personalize import Personalizer
from kbrank.privacy import OwnedProduct, ProfileView
from kbrank.searcher import Searcher

TODAY = dt.date(2026, 11, 1)
ARTICLES = [
    Article(id="x200-old", title="Router wifi drops", body="wifi drops on the router", url="https://kb/1",
            products=("router-x200",), versions={"router-x200": ">=2.0,<2.4"}, updated_at=dt.date(2026, 1, 2)),
    Article(id="x200-new", title="Router wifi drops", body="wifi drops on the router",
            products=("router-x200",), versions={"router-x200": ">=2.4"}),
    Article(id="cam", title="Camera wifi drops", body="wifi drops on the camera", products=("cam-c10",)),
    Article(id="general", title="Wifi drops: general checks", body="wifi drops general router checks",
            metadata={"team": "support", "notes": ["a", "b"]}),
    Article(id='quote "and" back\\slash', title="Router reset", body="hold the reset button, wifi comes back"),
    Article(id="ünïcode-ß", title="Routeur wifi", body="le wifi du routeur tombe", locales=("fr-FR",)),
    Article(id="us-only", title="Router wifi drops in the US", body="wifi drops router", regions=("us",)),
    Article(id="archived", title="Router wifi drops archive", body="wifi drops router", status="archived"),
]


def _view() -> ProfileView:
    return ProfileView.of("personalization", region="eu",
                          owned=(OwnedProduct(product="router-x200", version="2.3.1", platform="android"),))


def _manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text(encoding="utf-8"))


def _write_manifest(path: Path, data: dict) -> None:
    (path / "manifest.json").write_text(json.dumps(data), encoding="utf-8")


def _rewrite(path: Path, name: str, content: bytes) -> None:
    """Replace the file listed as ``name`` and re-sign it (a crafted index whose checksums all hold)."""
    data = _manifest(path)
    entry = data["files"][name]
    (path / entry["path"]).write_bytes(content)
    entry["bytes"], entry["sha256"] = len(content), hashlib.sha256(content).hexdigest()
    _write_manifest(path, data)


def _as_saved_by_main(path: Path) -> None:
    """Make the directory look like one saved before the ``corpus_ids`` file: the manifest does not list it."""
    data = _manifest(path)
    (path / data["files"].pop("corpus_ids")["path"]).unlink()
    _write_manifest(path, data)


@pytest.fixture()
def saved(tmp_path: Path) -> tuple[Searcher, Path]:
    searcher = Searcher(mode="bm25", personalizer=Personalizer(today=TODAY)).build(Corpus(ARTICLES))
    searcher.save(tmp_path / "idx")
    return searcher, tmp_path / "idx"


def _parsed(corpus: Corpus) -> int:
    return sum(article is not None for article in corpus._articles._parsed)


@pytest.mark.parametrize("layout", ["current", "saved by main"])
def test_the_loaded_corpus_is_the_saved_one_parsed_on_demand(saved, layout: str) -> None:
    original, path = saved
    if layout == "saved by main":
        _as_saved_by_main(path)
    loaded = Searcher.load(path)
    corpus = loaded.corpus_
    assert _parsed(corpus) == 0 and len(corpus) == len(ARTICLES)
    assert corpus.ids == tuple(a.id for a in ARTICLES)  # ids need no article to be parsed
    assert corpus.row('quote "and" back\\slash') == 4 and "ünïcode-ß" in corpus and "nope" not in corpus
    assert _parsed(corpus) == 0  # ids, rows and `in` with an id read the id list only
    assert ARTICLES[0] in corpus and _parsed(corpus) == 1  # `in` with an Article compares it with the parsed one
    results = loaded.search("router wifi", k=2)
    assert [r.article_id for r in results] == [r.article_id for r in original.search("router wifi", k=2)]
    assert _parsed(corpus) <= 3
    assert list(corpus) == ARTICLES and corpus == original.corpus_ and corpus[-1] == ARTICLES[-1]
    assert corpus[1:3] == tuple(ARTICLES[1:3])


def test_a_loaded_searcher_fits_its_personalizer_on_the_first_personalized_search(saved) -> None:
    original, path = saved
    loaded = Searcher.load(path)
    loaded.search("router wifi drops", k=5)
    assert loaded.state_._fitted == [] and _parsed(loaded.corpus_) <= 5
    mine = loaded.search("router wifi drops", k=5, profile=_view())
    reference = original.search("router wifi drops", k=5, profile=_view())
    assert mine.personalized and mine.to_dict() == reference.to_dict()
    assert loaded.state_._fitted  # on the applicability saved compiled: no article parsed for it
    assert loaded.personalizer_.applicability_ is saved_applicability(loaded.corpus_)
    edited = loaded.add([Article(id="new", title="Router wifi drops again", body="wifi drops router")])
    assert edited.search("router wifi drops", k=10, profile=_view()).personalized


def test_saving_a_loaded_searcher_writes_the_same_files(saved, tmp_path: Path) -> None:
    _, path = saved
    Searcher.load(path).save(tmp_path / "copy")
    assert _manifest(tmp_path / "copy")["files"] == _manifest(path)["files"]


@pytest.mark.parametrize("ids, message", [
    (["x200-old"] * len(ARTICLES), r"lists article id 'x200-old' twice \(lines 1 and 2\)"),
    ([a.id for a in ARTICLES][:-1], r"the corpus's ids list 7 articles, its records 8"),
    ([a.id for a in ARTICLES][:-1] + [""], r"not a JSON array of non-blank strings"),
    ({"ids": 1}, r"not a JSON array of non-blank strings"),
    ("[1, 2", r"cannot read the corpus's ids"),
])
def test_crafted_id_lists_are_refused_at_load(saved, ids, message: str) -> None:
    _, path = saved
    _rewrite(path, "corpus_ids", (ids if isinstance(ids, str) else json.dumps(ids)).encode())
    with pytest.raises(IndexFormatError, match=message):
        Searcher.load(path)


def test_a_line_that_does_not_match_its_id_is_refused_when_it_is_used(saved) -> None:
    _, path = saved
    records = (path / _manifest(path)["files"]["corpus"]["path"]).read_bytes().splitlines(keepends=True)
    records[2], records[3] = records[3], records[2]
    _rewrite(path, "corpus", b"".join(records))
    corpus = Searcher.load(path).corpus_
    assert corpus[0] == ARTICLES[0]
    with pytest.raises(IndexFormatError, match=r"line 3 holds article 'general', the corpus's ids say 'cam'"):
        corpus[2]


@pytest.mark.parametrize("line, message", [
    (b'{"id": "cam", "title": 3}', r"stored corpus is invalid \(.*line 3.*title"),
    (b'{"id": "cam"', r"cannot read 'corpus': malformed JSON .* on line 3"),
    (b'{"id": "cam", "title": "\\ud800"}', r"lone UTF-16 surrogate escape .* on line 3"),
    (b'{"id": "cam", "title": "\xff"}', r"not valid UTF-8 .* on line 3"),
])
def test_a_damaged_line_is_refused_when_it_is_used(saved, line: bytes, message: str) -> None:
    _, path = saved
    records = (path / _manifest(path)["files"]["corpus"]["path"]).read_bytes().splitlines(keepends=True)
    records[2] = line + b"\n"
    _rewrite(path, "corpus", b"".join(records))
    searcher = Searcher.load(path)
    with pytest.raises(IndexFormatError, match=message):
        list(searcher.corpus_)
    with pytest.raises(IndexFormatError, match=message):  # the hidden list shows it (applicability is stored)
        searcher.search("camera wifi drops", k=3, profile=_view(), explain_hidden=True)


def test_an_index_saved_by_main_with_a_damaged_line_is_refused_at_load(saved) -> None:
    _, path = saved
    _as_saved_by_main(path)
    records = (path / _manifest(path)["files"]["corpus"]["path"]).read_bytes().splitlines(keepends=True)
    records[5] = b'["not", "an", "object"]\n'
    _rewrite(path, "corpus", b"".join(records))
    with pytest.raises(IndexFormatError, match=r"line 6: expected a JSON object per article"):
        Searcher.load(path)
