"""Every bad corpus input gets a CorpusError that names the file, line, field, value and fix."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from kbrank import Article, Corpus, CorpusError, UnknownArticleError, VersionSpecError


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "kb.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = json.dumps({"id": "kb-1", "title": "Reset", "body": "Hold the button", "products": ["router-x200"],
                   "versions": {"router-x200": ">=2.0,<2.4"}, "kind": "how-to", "updated_at": "2026-01-02"})


def test_loads_all_fields_and_round_trips(tmp_path: Path) -> None:
    corpus = Corpus.from_jsonl(_write(tmp_path, [GOOD, json.dumps({"id": "kb-2", "title": "Other"})]))
    article = corpus.get("kb-1")
    assert article.products == ("router-x200",)
    assert article.versions["router-x200"] == ">=2.0,<2.4"
    assert article.updated_at == dt.date(2026, 1, 2)
    out = tmp_path / "out.jsonl"
    corpus.to_jsonl(out)
    assert Corpus.from_jsonl(out) == corpus


def test_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, [GOOD, '{"id": "kb-2", "title": '])
    with pytest.raises(CorpusError, match=r"kb\.jsonl, line 2: malformed JSON .*Fix: write one complete JSON"):
        Corpus.from_jsonl(path)


def test_missing_id(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"line 2, field 'id': missing article id\. Fix: give every article"):
        Corpus.from_jsonl(_write(tmp_path, [GOOD, json.dumps({"title": "no id"})]))


def test_duplicate_id(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"line 2, field 'id': duplicate article id \(first seen at line 1\) "
                                          r"\(got 'kb-1'\)\. Fix: give every article a unique id"):
        Corpus.from_jsonl(_write(tmp_path, [GOOD, GOOD]))


def test_duplicate_id_names_the_file_lines_not_positions(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"line 5, field 'id': duplicate article id \(first seen at line 2\)"):
        Corpus.from_jsonl(_write(tmp_path, ["", GOOD, "", "", GOOD]))


def test_wrong_type(tmp_path: Path) -> None:
    bad = json.dumps({"id": "kb-3", "title": 42})
    with pytest.raises(CorpusError, match=r"line 1, field 'title': expected a string \(got 42\)"):
        Corpus.from_jsonl(_write(tmp_path, [bad]))
    bad = json.dumps({"id": "kb-3", "products": {"a": 1}})
    with pytest.raises(CorpusError, match=r"field 'products': expected a string or a list of strings"):
        Corpus.from_jsonl(_write(tmp_path, [bad]))


def test_unparseable_version_specifier(tmp_path: Path) -> None:
    bad = json.dumps({"id": "kb-4", "products": ["cam-c10"], "versions": {"cam-c10": "from 2.0 to 2.4"}})
    with pytest.raises(VersionSpecError, match=r"line 1, field 'versions.cam-c10': not a PEP 440 version specifier "
                                               r"\(got 'from 2.0 to 2.4'\)\. Fix: write ranges such as"):
        Corpus.from_jsonl(_write(tmp_path, [bad]))


def test_empty_corpus(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"kb\.jsonl: the corpus is empty\. Fix: give at least one article"):
        Corpus.from_jsonl(_write(tmp_path, ["", "  "]))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"nope\.jsonl: file not found"):
        Corpus.from_jsonl(tmp_path / "nope.jsonl")


def test_typo_in_field_name_suggests_fix(tmp_path: Path) -> None:
    bad = json.dumps({"id": "kb-5", "prodcuts": ["x"]})
    with pytest.raises(CorpusError, match=r"field 'prodcuts': unknown field; did you mean 'products'\?"):
        Corpus.from_jsonl(_write(tmp_path, [bad]))


def test_unknown_status_lists_choices(tmp_path: Path) -> None:
    bad = json.dumps({"id": "kb-6", "status": "retired"})
    with pytest.raises(CorpusError, match=r"field 'status': unknown status \(got 'retired'\)\. Fix: use one of active"):
        Corpus.from_jsonl(_write(tmp_path, [bad]))


def test_nothing_is_half_loaded_and_errors_are_value_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Corpus.from_jsonl(_write(tmp_path, [GOOD, "[1, 2]"]))


def test_beir_folder(scifact_dir: Path) -> None:
    corpus = Corpus.from_beir(scifact_dir)
    assert len(corpus) == 5183
    assert corpus[0].title and corpus[0].body


def test_dataframe_and_records() -> None:
    frame = pd.DataFrame([{"id": "a", "title": "One", "products": ["p1", "p2"], "url": None},
                          {"id": "b", "title": "Two", "products": None, "url": "https://x"}])
    corpus = Corpus.from_dataframe(frame)
    assert corpus.get("a").products == ("p1", "p2") and corpus.get("b").url == "https://x"
    with pytest.raises(CorpusError, match=r"DataFrame, line 2, field 'id': missing article id"):
        Corpus.from_dataframe(pd.DataFrame([{"id": "a"}, {"id": None}]))
    assert Corpus.from_records([{"id": "x", "text": "beir style body"}])[0].body == "beir style body"


def test_unknown_id_suggests_close_match() -> None:
    corpus = Corpus([Article(id="router-reset"), Article(id="camera-reset")])
    with pytest.raises(UnknownArticleError, match=r"no article with id 'router-rest'; did you mean 'router-reset'\?"):
        corpus.row("router-rest")


def test_article_is_immutable() -> None:
    article = Article(id="a", versions={"p": ">=1"})
    with pytest.raises(AttributeError):
        article.title = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        article.versions["p"] = "<1"  # type: ignore[index]
