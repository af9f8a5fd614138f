"""The compiled applicability saved beside the corpus (`kbrank.corpus.applicability_io`).

Reference: for the demo help centre and for generated corpora, the loaded applicability equals
`compile_applicability` of the corpus array for array, and a loaded searcher personalizes exactly as the
in-memory one without parsing the articles it does not show. Indexes saved without it still personalize
(compiling), edits never use it stale, and crafted or damaged files are refused with `IndexFormatError` naming
the file and the fix; a hypothesis fuzzer over the arrays and strings allows only that or a valid answer.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_saved_corpus import _manifest, _rewrite, _write_manifest  # re-signing crafted files, as that test does

from kbrank import Article, Corpus, IndexFormatError, KBRankError
from kbrank.applicability import KINDS_OF_ATTRIBUTE, Applicability, compile_applicability
from kbrank.corpus.applicability_io import StoredApplicability
from kbrank.corpus.io import saved_applicability
from kbrank.datasets import load_helpcentre
from kbrank.personalize import Personalizer
from kbrank.privacy import OwnedProduct, ProfileGateway, ProfileView
from kbrank.searcher import Searcher

TODAY = dt.date(2026, 11, 1)
PRODUCTS = ("router-x200", "cam-c10", "thermo-t1")
SPECS = (">=2.0,<2.4", "<2.0", ">=2.4", "==2.3.*")
WORDS = ("wifi", "drops", "router", "camera", "reset", "update")
ARRAYS = ("indptr", "indices", "ranges", "codes", "dates")


def _same(loaded: Applicability, compiled: Applicability) -> None:
    """Array for array (the dataclass's == would compare numpy arrays element-wise)."""
    assert loaded.n_articles == compiled.n_articles
    assert dict(loaded.vocab) == dict(compiled.vocab)
    assert (loaded.specs, loaded.statuses, loaded.kinds) == (compiled.specs, compiled.statuses, compiled.kinds)
    for kind in KINDS_OF_ATTRIBUTE:
        mine, theirs = loaded.matrices[kind], compiled.matrices[kind]
        assert mine.shape == theirs.shape and mine.dtype == theirs.dtype
        for part in ("indptr", "indices", "data"):
            assert np.array_equal(getattr(mine, part), getattr(theirs, part))
            assert getattr(mine, part).dtype == getattr(theirs, part).dtype
    for name in ("spec_rows", "spec_products", "spec_ids", "status", "kind", "valid_until", "updated_at"):
        mine, theirs = getattr(loaded, name), getattr(compiled, name)
        assert type(mine) is np.ndarray and mine.dtype == theirs.dtype and np.array_equal(mine, theirs), name


def _parsed(corpus: Corpus) -> int:
    return sum(article is not None for article in corpus._articles._parsed)


def _file(path: Path, name: str) -> Path:
    return path / _manifest(path)["files"][name]["path"]


def _npy(array: np.ndarray) -> bytes:
    import io

    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return out.getvalue()


def _as_saved_before_this_change(path: Path) -> None:
    """What an index saved by an earlier kbrank looks like: no applicability component or files."""
    data = _manifest(path)
    del data["components"]["applicability"]
    for name in [n for n in data["files"] if n.startswith("applicability.")]:
        (path / data["files"].pop(name)["path"]).unlink()
    _write_manifest(path, data)


# -- reference: the demo help centre and generated corpora ------------------------------------------------------
@pytest.fixture(scope="module")
def helpcentre(tmp_path_factory: pytest.TempPathFactory):
    hc = load_helpcentre()
    searcher = Searcher(mode="bm25", personalizer=Personalizer(today=hc.as_of)).build(hc.corpus)
    path = tmp_path_factory.mktemp("hc") / "idx"
    searcher.save(path)
    return hc, searcher, path


def test_the_help_centre_loads_its_compiled_applicability_without_parsing_articles(helpcentre) -> None:
    hc, searcher, path = helpcentre
    loaded = Searcher.load(path)
    _same(saved_applicability(loaded.corpus_), compile_applicability(hc.corpus))
    with ProfileGateway.from_helpcentre(hc, key="k" * 32) as gateway:
        queries = hc.queries[:12]
        for query in queries:
            view = gateway.read(query.customer_id, "personalization")
            mine = loaded.search(query.text, k=10, profile=view, explain_hidden=True)
            assert mine.to_dict() == searcher.search(query.text, k=10, profile=view, explain_hidden=True).to_dict()
    _same(loaded.personalizer_.applicability_, searcher.personalizer_.applicability_)
    assert _parsed(loaded.corpus_) <= 20 * len(queries) < len(hc.corpus)  # the shown and hidden ones only


@st.composite
def _articles(draw: st.DrawFn, number: int) -> Article:
    products = tuple(draw(st.lists(st.sampled_from(PRODUCTS), max_size=2, unique=True)))
    some = st.lists(st.sampled_from(("a", "b", "c")), max_size=2, unique=True).map(tuple)
    return Article(
        id=f"a{number}", title=" ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3))),
        products=products, versions={p: draw(st.sampled_from(SPECS)) for p in products if draw(st.booleans())},
        platforms=draw(some), regions=draw(some), locales=draw(some), audience=draw(some), tags=draw(some),
        kind=draw(st.sampled_from(("how-to", "known-issue", "custom kind"))),
        status=draw(st.sampled_from(("active", "deprecated", "archived"))),
        valid_until=draw(st.sampled_from((None, dt.date(2025, 1, 1), dt.date(9999, 12, 31)))),
        updated_at=draw(st.sampled_from((None, dt.date(1, 1, 1), dt.date(2026, 10, 1)))))


corpora = st.integers(1, 25).flatmap(lambda n: st.tuples(*(_articles(i) for i in range(n)))).map(Corpus)
views = st.builds(lambda product, version, region: ProfileView.of(
    "personalization", region=region, owned=(OwnedProduct(product=product, version=version),)),
    st.sampled_from(PRODUCTS), st.sampled_from(("1.0", "2.3.1", "2.5", None)), st.sampled_from(("a", "b", None)))


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(corpus=corpora, view=views, query=st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join))
def test_generated_corpora_load_the_applicability_they_compile(tmp_path_factory, corpus, view, query) -> None:
    path = tmp_path_factory.mktemp("gen") / "idx"
    searcher = Searcher(mode="bm25", personalizer=Personalizer(today=TODAY)).build(corpus)
    searcher.save(path)
    loaded = Searcher.load(path)
    _same(saved_applicability(loaded.corpus_), compile_applicability(corpus))
    mine = loaded.search(query, k=5, profile=view, explain_hidden=True)
    assert mine.to_dict() == searcher.search(query, k=5, profile=view, explain_hidden=True).to_dict()


# -- older indexes and edits ------------------------------------------------------------------------------------
ARTICLES = [
    Article(id="old", title="Router wifi drops", products=("router-x200",), versions={"router-x200": "<2.4"}),
    Article(id="new", title="Router wifi drops", products=("router-x200",), versions={"router-x200": ">=2.4"}),
    Article(id="cam", title="Camera wifi drops", products=("cam-c10",)),
    Article(id="general", title="Wifi drops: general checks", tags=("setup", "wifi")),
    Article(id="gone", title="Router wifi drops archive", status="archived"),
]


def _view() -> ProfileView:
    return ProfileView.of("personalization", owned=(OwnedProduct(product="router-x200", version="2.3.1"),))


@pytest.fixture()
def saved(tmp_path: Path) -> tuple[Searcher, Path]:
    searcher = Searcher(mode="bm25", personalizer=Personalizer(today=TODAY)).build(Corpus(ARTICLES))
    searcher.save(tmp_path / "idx")
    return searcher, tmp_path / "idx"


def test_an_index_saved_without_it_compiles_from_the_articles(saved) -> None:
    original, path = saved
    _as_saved_before_this_change(path)
    loaded = Searcher.load(path)
    assert saved_applicability(loaded.corpus_) is None
    mine = loaded.search("router wifi drops", k=5, profile=_view())
    assert mine.personalized and mine.to_dict() == original.search("router wifi drops", k=5, profile=_view()).to_dict()
    assert _parsed(loaded.corpus_) == len(ARTICLES)  # compiled from every article, as before


def test_an_index_written_for_other_attribute_kinds_compiles_too(saved) -> None:
    original, path = saved
    data = _manifest(path)
    data["components"]["applicability"]["kinds"] = ["products"]
    _write_manifest(path, data)
    loaded = Searcher.load(path)
    assert saved_applicability(loaded.corpus_) is None
    assert loaded.search("wifi", k=5, profile=_view()).to_dict() == original.search("wifi", k=5, profile=_view()).to_dict()


@pytest.mark.parametrize("edit", ["add", "update", "remove"])
def test_an_edited_corpus_compiles_its_own(saved, edit: str) -> None:
    original, path = saved
    loaded = Searcher.load(path)
    loaded.search("router wifi drops", k=5, profile=_view())  # the stored one is in use before the edit
    change = {"add": lambda s: s.add([Article(id="extra", title="Router wifi drops", products=("cam-c10",))]),
              "update": lambda s: s.update([Article(id="old", title="Router wifi drops", status="archived")]),
              "remove": lambda s: s.remove(["old"])}[edit]
    change(loaded)
    change(original)
    assert saved_applicability(loaded.corpus_) is None
    _same(loaded.personalizer_.applicability_, compile_applicability(original.corpus_))
    results = loaded.search("router wifi drops", k=5, profile=_view(), explain_hidden=True)
    assert results.to_dict() == original.search("router wifi drops", k=5, profile=_view(), explain_hidden=True).to_dict()
    assert "old" not in [r.article_id for r in results] or edit == "add"


def test_a_loaded_index_saved_again_stores_the_same_files(saved, tmp_path: Path) -> None:
    _, path = saved
    loaded = Searcher.load(path)
    loaded.search("wifi", k=3, profile=_view())
    loaded.save(tmp_path / "copy")
    assert _manifest(tmp_path / "copy")["files"] == _manifest(path)["files"]


# -- crafted and damaged files ----------------------------------------------------------------------------------
def _load_and_personalize(path: Path) -> None:
    Searcher.load(path).search("router wifi drops", k=5, profile=_view())


def _array_case(name: str, change):
    def craft(path: Path) -> None:
        array = np.load(_file(path, f"applicability.{name}"), allow_pickle=False)
        _rewrite(path, f"applicability.{name}", _npy(change(array.copy())))

    return craft


def _strings_case(change):
    def craft(path: Path) -> None:
        data = json.loads(_file(path, "applicability.strings").read_bytes())
        _rewrite(path, "applicability.strings", json.dumps(change(data)).encode())

    return craft


def _set(array: np.ndarray, where, value) -> np.ndarray:
    array[where] = value
    return array


def _component(key: str, value):
    def craft(path: Path) -> None:
        data = _manifest(path)
        data["components"]["applicability"][key] = value
        _write_manifest(path, data)

    return craft


def _unlisted(path: Path) -> None:
    data = _manifest(path)
    data["files"].pop("applicability.codes")
    _write_manifest(path, data)


CRAFTED = {
    "indptr as float": ("indptr", _array_case("indptr", lambda a: a.astype(np.float64)), r"indptr is float64"),
    "indptr of the wrong shape": ("indptr", _array_case("indptr", lambda a: a[:, :-1]), r"expected int64 of shape \(6, 6\)"),
    "indptr going back": ("indptr", _array_case("indptr", lambda a: _set(a, (0, 2), 0)), r"go back"),
    "indptr not from 0": ("indptr", _array_case("indptr", lambda a: a + 1), r"do not start at 0"),
    "indptr past the end": ("indptr", _array_case("indptr", lambda a: _set(a, (1, -1), 2**62)), r"past the end"),
    "index out of range": ("indices", _array_case("indices", lambda a: _set(a, 0, 99)), r"a products index out of range"),
    "negative index": ("indices", _array_case("indices", lambda a: _set(a, 0, -1)), r"out of range"),
    "indices too short": ("indices", _array_case("indices", lambda a: a[:-1]), r"indices is int32 of shape"),
    "a value listed twice": ("indices", _array_case("indices", lambda a: _set(a, -1, a[-2])), r"same tags value twice"),
    "range row out of range": ("ranges", _array_case("ranges", lambda a: _set(a, (0, 0), 5)), r"article row out of range"),
    "range for an unlisted product": ("ranges", _array_case("ranges", lambda a: _set(a, (1, 0), 1)),
                                      r"a product its article does not list"),
    "range id out of range": ("ranges", _array_case("ranges", lambda a: _set(a, (2, 0), 7)), r"range's id out of range"),
    "ranges as int32": ("ranges", _array_case("ranges", lambda a: a.astype(np.int32)), r"ranges is int32"),
    "unknown status code": ("codes", _array_case("codes", lambda a: _set(a, (0, 0), 9)), r"a status code out of range"),
    "unknown kind code": ("codes", _array_case("codes", lambda a: _set(a, (1, 0), -3)), r"a kind code out of range"),
    "codes for fewer rows": ("codes", _array_case("codes", lambda a: a[:, :3]), r"expected int16 of shape \(2, 5\)"),
    "a date out of range": ("dates", _array_case("dates", lambda a: _set(a, (0, 1), 10**9)), r"day ordinal out of range"),
    "bad JSON": ("strings", lambda p: _rewrite(p, "applicability.strings", b'{"vocab": '), r"not valid JSON"),
    "JSON not an object": ("strings", lambda p: _rewrite(p, "applicability.strings", b"[1, 2]"), r"expected an object"),
    "an unknown status": ("strings", _strings_case(lambda d: {**d, "statuses": ["active", "zombie"]}),
                          r"unknown status 'zombie'"),
    "an empty kind": ("strings", _strings_case(lambda d: {**d, "kinds": [""]}), r"an empty article kind"),
    "a vocabulary of numbers": ("strings", _strings_case(lambda d: {**d, "vocab": {**d["vocab"], "products": [1, 2]}}),
                                r"'vocab.products' is not a list of distinct strings"),
    "a range that does not parse": ("strings", _strings_case(lambda d: {**d, "specs": ["<<2", ">=2.4"]}),
                                    r"version range '<<2' does not parse"),
    "a shorter vocabulary": ("indices", _strings_case(lambda d: {**d, "vocab": {**d["vocab"], "products": ["p"]}}),
                             r"products index out of range"),
    "missing file": ("codes", lambda p: _file(p, "applicability.codes").unlink(), r"is missing"),
    "unlisted file": ("manifest.json", _unlisted, r"the manifest lists no file 'applicability.codes'"),
    "other row count": ("manifest.json", _component("articles", 4), r"was not saved with this corpus \(4 articles"),
    "other corpus": ("manifest.json", _component("corpus_ids_sha256", "0" * 64), r"was not saved with this corpus"),
    "a broken component": ("manifest.json", _component("extra", 1), r"components.applicability is not an object"),
}


@pytest.mark.parametrize("case", CRAFTED)
def test_crafted_or_damaged_files_are_refused_naming_the_file_and_the_fix(saved, case: str) -> None:
    _, path = saved
    part, craft, message = CRAFTED[case]
    craft(path)
    with pytest.raises(IndexFormatError, match=message) as info:
        _load_and_personalize(path)
    assert "rebuild the index" in str(info.value)
    assert info.value.path is not None and (part in Path(info.value.path).name or part == "manifest.json"), info.value.path


# -- a fuzzer of the loader -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory):
    """The stored parts of a small index, and its corpus."""
    path = tmp_path_factory.mktemp("fuzz") / "idx"
    corpus = Corpus(ARTICLES)
    Searcher(mode="bm25").build(corpus).save(path)
    arrays = {name: np.load(_file(path, f"applicability.{name}"), allow_pickle=False) for name in ARRAYS}
    return corpus, arrays, json.loads(_file(path, "applicability.strings").read_bytes())


_values = st.one_of(st.integers(-3, 12), st.sampled_from([2**31 - 1, -(2**31), 2**62, 3_652_059, 3_652_060]))
_mutation = st.one_of(
    st.tuples(st.just("value"), st.sampled_from(ARRAYS), st.integers(0, 10**6), _values),
    st.tuples(st.just("dtype"), st.sampled_from(ARRAYS), st.sampled_from(["int8", "int16", "int32", "int64",
                                                                            "float64", "uint64"]), st.none()),
    st.tuples(st.just("shape"), st.sampled_from(ARRAYS), st.integers(-2, 2), st.booleans()),
    st.tuples(st.just("string"), st.sampled_from(["specs", "statuses", "kinds", *KINDS_OF_ATTRIBUTE]),
              st.integers(0, 3), st.one_of(st.text(max_size=6), st.integers(), st.none(), st.just(">=2.4"))),
)


def _mutate(arrays: dict, strings: dict, mutation) -> None:
    what, part, where, value = mutation
    if what == "string":
        table = strings["vocab"] if part in KINDS_OF_ATTRIBUTE else strings
        items = table[part]
        if items and where < len(items):
            items[where] = value
        else:
            items.append(value)
        return
    array = arrays[part]
    if what == "value" and array.size:
        flat = array.reshape(-1)
        with np.errstate(over="ignore"):
            flat[where % flat.size] = np.asarray(value).astype(array.dtype)
    elif what == "dtype":
        arrays[part] = array.astype(where)
    elif what == "shape":
        arrays[part] = array.reshape(-1) if value else array[..., :max(array.shape[-1] + where, 0)]


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(mutations=st.lists(_mutation, min_size=1, max_size=3))
def test_the_loader_refuses_or_answers_never_crashes(parts, mutations) -> None:
    corpus, pristine, strings = parts
    arrays = {name: array.copy() for name, array in pristine.items()}
    strings = json.loads(json.dumps(strings))
    for mutation in mutations:
        _mutate(arrays, strings, mutation)
    raw = json.dumps(strings).encode()
    stored = StoredApplicability(len(corpus), arrays, raw, {p: f"/idx/applicability.{p}" for p in (*ARRAYS, "strings")})
    try:
        applicability = stored.load()
    except IndexFormatError as exc:
        assert "rebuild the index" in str(exc) and exc.path.startswith("/idx/applicability.")
        return
    personalizer = Personalizer(today=TODAY).fit(corpus, applicability=applicability)
    try:  # a valid applicability, perhaps not this corpus's: it must still rank, or refuse with a kbrank error
        plan = personalizer.plan(_view(), "router wifi drops")
    except KBRankError:
        return
    assert plan is not None


def test_the_cli_reports_a_crafted_file_with_exit_code_3(saved, tmp_path: Path, capsys) -> None:
    from kbrank.cli import main

    _, path = saved
    CRAFTED["unknown status code"][1](path)
    profile = tmp_path / "customer.json"
    profile.write_text(json.dumps({"customer_id": "c1", "consents": {"personalization": True},
                                   "owned": [{"product": "router-x200", "version": "2.3.1"}]}))
    assert main(["search", str(path), "router wifi drops", "--json"]) == 0  # no profile: the file is not read
    capsys.readouterr()
    assert main(["search", str(path), "router wifi drops", "--json", "--profile", str(profile)]) == 3
    err = capsys.readouterr().err
    assert "applicability.codes" in err and "a status code out of range" in err and "rebuild the index" in err
    assert "Traceback" not in err
