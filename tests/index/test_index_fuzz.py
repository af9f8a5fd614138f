"""Crafted and damaged index directories: every one is refused with `IndexFormatError` (exit code 3) or loads
and searches correctly; none crashes the process or shows a traceback.

Three layers:

- the named cases of issue 9 (malformed manifests, paths out of the directory, out-of-range parameters, a
  re-signed ``bm25.row_idx`` (now ``bm25.rows``) that used to segfault the CLI with rc 139);
- hypothesis strategies over manifests, run in this process with a fixed budget (`MANIFEST_EXAMPLES` cases,
  derandomized, so the count is the same on every run); the only allowed outcomes are success or a
  ``kbrank.errors`` exception;
- a mutation fuzzer over the index files (`_mutations`: flipped bytes, truncation, arrays and faiss files
  rewritten with re-signed checksums) that runs in child processes (`_fuzz_worker`), so a segfault is seen
  as a dead child and named by its case instead of killing the test run; plus real ``kbrank search``
  subprocesses on crafted indexes.

The dense indexes use `HashEncoder`, a fast fake encoder (named as such), except the MiniLM case.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _dense_helpers import HashEncoder, help_corpus, minilm  # noqa: F401 - minilm is a fixture
from _mutations import manifest, resign, write_manifest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kbrank import BM25Index, DenseIndex, IndexFormatError, KBRankError, Searcher

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"
#: Manifest cases per run (derandomized): 1,200 on a BM25 searcher, 500 on a hybrid one, 300 raw documents.
MANIFEST_EXAMPLES = {"bm25": 1200, "hybrid": 500, "raw": 300}
#: Index-file mutation cases per run, each in a child process that may crash without harm.
MUTATION_CASES = {"bm25": 300, "hybrid": 250, "hnsw": 250, "cli": 120}
#: Real ``kbrank search`` subprocesses (each starts Python and imports numba, scipy, scikit-learn).
CLI_SEEDS = range(9000, 9012)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Pristine saved searchers: BM25 only, hybrid with a flat faiss index, hybrid BM25+ with HNSW."""
    root = tmp_path_factory.mktemp("sources")
    corpus = help_corpus()
    small = dict(passage_words=12, passage_stride=8)
    Searcher(mode="bm25").build(corpus).save(root / "bm25")
    Searcher(mode="hybrid", dense=DenseIndex(HashEncoder(), **small)).build(corpus).save(root / "hybrid")
    Searcher(mode="hybrid", bm25=BM25Index(variant="bm25+"),
             dense=DenseIndex(HashEncoder(), index_type="hnsw", hnsw_m=4, **small)).build(corpus).save(root / "hnsw")
    return {"bm25": root / "bm25", "hybrid": root / "hybrid", "hnsw": root / "hnsw"}


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def _load(path: Path, encoder=None) -> Searcher:
    return Searcher.load(path, encoder=encoder)


def _edit(path: Path, change) -> None:
    data = manifest(path)
    change(data)
    write_manifest(path, data)


# -- the named cases --------------------------------------------------------------------------------------------
def _first(data: dict, prefix: str) -> dict:
    return data["files"][next(n for n in sorted(data["files"]) if n.startswith(prefix))]


MALFORMED = {
    "entry without bytes": (lambda d: _first(d, "bm25.rows").pop("bytes"), r"files\.bm25\.rows\.bytes: Field required"),
    "entry without path": (lambda d: _first(d, "corpus").pop("path"), r"files\.corpus\.path: Field required"),
    "files null": (lambda d: d.update(files=None), r"manifest.json, files: Input should be a valid dictionary"),
    "components a list": (lambda d: d.update(components=[1, 2]), r"components: Input should be a valid dictionary"),
    "missing searcher.mode": (lambda d: d["components"]["searcher"].pop("mode"), r"holds no searcher"),
    "k1 = -5": (lambda d: d["components"]["bm25"]["params"].update(k1=-5),
                r"components\.bm25: invalid setting \(k1 must be a number >= 0; got -5\.0\)"),
    "k1 a string": (lambda d: d["components"]["bm25"]["params"].update(k1="1.5"),
                    r"components\.bm25\.params\.k1: Input should be a valid number"),
    "unknown parameter": (lambda d: d["components"]["bm25"]["params"].update(k3=1.0),
                          r"components\.bm25\.params\.k3: Extra inputs are not permitted"),
    "unknown variant": (lambda d: d["components"]["bm25"]["params"].update(variant="bm26"),
                        r"variant must be one of"),
    "bytes a bool": (lambda d: _first(d, "bm25.counts").update(bytes=True), r"bytes: Input should be a valid integer"),
    "path ../x": (lambda d: _first(d, "bm25.counts").update(path="../x"),
                  r"files\.bm25\.counts\.path: must be a plain file name inside the index directory"),
    "absolute path": (lambda d: _first(d, "corpus").update(path="/etc/passwd"), r"must be a plain file name"),
    "path to the manifest": (lambda d: _first(d, "corpus").update(path="manifest.json"), r"must be a plain file"),
    "format version 2": (lambda d: d.update(format_version=2), r"unknown index format version 2"),
    "format version true": (lambda d: d.update(format_version=True), r"unknown index format version True"),
    "another format": (lambda d: d.update(format="other"), r"not a kbrank index manifest"),
    "articles off": (lambda d: d["components"]["bm25"].update(articles=7), r"8 articles in the arrays, the manifest"),
    "cache_bytes fraction": (lambda d: d["components"]["personalizer"].update(cache_bytes=2.5),
                             r"personalizer settings are invalid"),
    "depth negative": (lambda d: d["components"]["searcher"].update(depth=-1), r"invalid searcher settings"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_manifest_is_one_clear_error(sources, tmp_path: Path, case: str) -> None:
    change, message = MALFORMED[case]
    index = _copy(sources["bm25"], tmp_path / "idx")
    _edit(index, change)
    with pytest.raises(IndexFormatError, match=message):
        _load(index)


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe{}", r"manifest.json is not valid UTF-8 \(byte 1\)"),
    (b'{"format": "kbrank-index", "format_version": 1, "x": NaN}', r"holds a value JSON does not allow"),
    (b'{"format": "kbrank-index", "format_version": 1, "x": 1e999}', r"number out of range"),
    (b"[" * 100_000 + b"]" * 100_000, r"nested too deeply"),
    (b'{"format": "kbrank-index", ', r"not valid JSON \(Expecting property name"),
    (b"", r"not valid JSON"),
])
def test_unreadable_manifest_bytes(sources, tmp_path: Path, content: bytes, message: str) -> None:
    index = _copy(sources["bm25"], tmp_path / "idx")
    (index / "manifest.json").write_bytes(content)
    with pytest.raises(IndexFormatError, match=message):
        _load(index)


def test_manifest_that_is_a_directory_or_too_large(sources, tmp_path: Path) -> None:
    index = _copy(sources["bm25"], tmp_path / "idx")
    (index / "manifest.json").unlink()
    (index / "manifest.json").mkdir()
    with pytest.raises(IndexFormatError, match="manifest.json is a directory"):
        _load(index)
    other = _copy(sources["bm25"], tmp_path / "other")
    with open(other / "manifest.json", "ab") as handle:
        handle.truncate((16 << 20) + 1)
    with pytest.raises(IndexFormatError, match="larger than 16 MiB"):
        _load(other)


def test_symlinks_out_of_the_directory_are_refused(sources, tmp_path: Path) -> None:
    index = _copy(sources["bm25"], tmp_path / "idx")
    entry = _first(manifest(index), "corpus")
    outside = tmp_path / "outside.jsonl"
    shutil.move(index / entry["path"], outside)
    (index / entry["path"]).symlink_to(outside)
    with pytest.raises(IndexFormatError, match=r"file for 'corpus' is not a regular file in the index directory"):
        _load(index)
    # a link to a file inside the same directory is fine (a deployment may use links)
    (index / entry["path"]).unlink()
    shutil.move(outside, index / "real-corpus.jsonl")
    (index / entry["path"]).symlink_to(index / "real-corpus.jsonl")
    assert len(_load(index).corpus_) == 8
    # the manifest itself may not point out either
    shutil.move(index / "manifest.json", tmp_path / "manifest.json")
    (index / "manifest.json").symlink_to(tmp_path / "manifest.json")
    with pytest.raises(IndexFormatError, match="manifest.json is not a regular file in the index directory"):
        _load(index)


def _resigned(index: Path, name: str, change) -> None:
    entry = manifest(index)["files"][name]
    path = index / entry["path"]
    array = np.load(path)
    np.save(path, change(array.copy()), allow_pickle=False)
    resign(index, name)


CRAFTED = {
    "rows out of range": ("bm25.rows", lambda a: np.full_like(a, 10**6), r"rows holds values outside"),
    "rows negative": ("bm25.rows", lambda a: a - 100, r"rows holds values outside"),
    "rows out of order": ("bm25.rows", lambda a: a[::-1].copy(), r"not increasing within a term"),
    "col_ptr not monotonic": ("bm25.col_ptr", lambda a: a[::-1].copy(), r"col_ptr is not a monotonic pointer"),
    "col_ptr past the end": ("bm25.col_ptr", lambda a: a + 10**5, r"col_ptr is not a monotonic pointer"),
    "count of zero": ("bm25.counts", lambda a: a * 0, r"counts holds a count of 0"),
    "counts float": ("bm25.counts", lambda a: a.astype(np.float64), r"counts has dtype float64"),
    "counts signed": ("bm25.counts", lambda a: a.astype(np.int8), r"counts has dtype int8"),
    "ranks 2-d": ("bm25.ranks", lambda a: a.reshape(-1, 1), r"ranks has dtype uint8 and shape"),
    "doc_len wrong": ("bm25.doc_len", lambda a: a + 1, r"doc_len is not the sum of each article's counts"),
    "big-endian col_ptr": ("bm25.col_ptr", lambda a: a.astype(">i8"), r"not a plain number or bytes type in this"),
    "unicode doc_len array": ("bm25.doc_len", lambda a: np.array(["x"] * a.size), r"dtype <U1 is not a plain number"),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_bm25_arrays_are_refused(sources, tmp_path: Path, case: str) -> None:
    name, change, message = CRAFTED[case]
    index = _copy(sources["bm25"], tmp_path / "idx")
    _resigned(index, name, change)
    with pytest.raises(IndexFormatError, match=message):
        _load(index)
    with pytest.raises(IndexFormatError, match=message):
        BM25Index.load(index)


DENSE_CRAFTED = {
    "passage rows beyond the corpus": ("dense.passage_article", lambda a: a + 3, r"does not cover the corpus"),
    "passage spans beyond the text": ("dense.passage_end", lambda a: a + 10**6, r"beyond their article's text"),
    "passage_vector out of range": ("dense.passage_vector", lambda a: a + 10**6, r"passage_vector does not map"),
    "passage arrays float": ("dense.passage_start", lambda a: a.astype(np.float64), r"not a 1-d int64 array"),
    "digests 8 bytes": ("dense.digests", lambda a: a.astype("S8"), r"digests have dtype \|S8"),
}


@pytest.mark.parametrize("case", sorted(DENSE_CRAFTED))
def test_crafted_dense_arrays_are_refused(sources, tmp_path: Path, case: str) -> None:
    name, change, message = DENSE_CRAFTED[case]
    index = _copy(sources["hybrid"], tmp_path / "idx")
    _resigned(index, name, change)
    with pytest.raises(IndexFormatError, match=message):
        _load(index, HashEncoder())


@pytest.mark.parametrize("source, build, message", [
    ("hybrid", "flat-l2", r"the faiss file does not start like a flat index"),
    ("hybrid", "short", r"the faiss file holds (\d+) vectors, the passage map (?!\1)\d+"),
    # faiss >= 1.9 checks the graph itself when reading; `structure_problems` checks it again (next test)
    ("hnsw", "bad-link", r"HNSW neighbors\[3\] = \d+ out of range|links to vectors that do not exist"),
    ("hnsw", "bad-entry", r"HNSW entry_point \d+ out of range|entry point or top level is invalid"),
    ("hybrid", "nan", r"the flat index holds non-finite vector components"),
    ("hybrid", "garbage", r"faiss cannot read the file"),
])
def test_crafted_faiss_files_are_refused_before_any_search(sources, tmp_path: Path, source: str, build: str,
                                                           message: str) -> None:
    import faiss

    index = _copy(sources[source], tmp_path / "idx")
    name = "dense.faiss"
    path = index / manifest(index)["files"][name]["path"]
    raw = faiss.read_index(str(path))
    n, d = raw.ntotal, raw.d
    vectors = np.random.default_rng(0).standard_normal((n, d)).astype(np.float32)
    if build == "flat-l2":
        new = faiss.IndexFlatL2(d)
        new.add(vectors)
    elif build == "short":
        new = faiss.IndexFlatIP(d)
        new.add(vectors[:-1])
    elif build == "nan":
        new = faiss.IndexFlatIP(d)
        new.add(np.full((n, d), np.nan, np.float32))
    else:
        new = faiss.IndexHNSWFlat(d, 4, faiss.METRIC_INNER_PRODUCT)
        new.add(vectors)
        if build == "bad-link":
            links = faiss.vector_to_array(new.hnsw.neighbors)
            links[3] = n + 40
            faiss.copy_array_to_vector(links, new.hnsw.neighbors)
        else:
            new.hnsw.entry_point = n + 3
    if build == "garbage":
        path.write_bytes(path.read_bytes()[:4] + b"\xff" * 64)
    else:
        faiss.write_index(new, str(path))
    resign(index, name)
    with pytest.raises(IndexFormatError, match=message):
        _load(index, HashEncoder())


def test_hnsw_graph_checks_catch_what_faiss_would_trust() -> None:
    """`structure_problems` on in-memory graphs (no file, so faiss's own read checks never run)."""
    import faiss

    from kbrank.index.dense_faiss import structure_problems

    vectors = np.random.default_rng(1).standard_normal((40, 8)).astype(np.float32)

    def graph() -> object:
        index = faiss.IndexHNSWFlat(8, 4, faiss.METRIC_INNER_PRODUCT)
        index.add(vectors)
        return index

    assert structure_problems(graph(), "hnsw", n_vectors=40, dim=8) == []
    broken = graph()
    links = faiss.vector_to_array(broken.hnsw.neighbors)
    links[5] = 400
    faiss.copy_array_to_vector(links, broken.hnsw.neighbors)
    assert structure_problems(broken, "hnsw", n_vectors=40, dim=8) == ["the HNSW graph links to vectors that do "
                                                                        "not exist"]
    broken = graph()
    broken.hnsw.entry_point = 77
    assert structure_problems(broken, "hnsw", n_vectors=40, dim=8) == ["the HNSW graph's entry point or top level "
                                                                        "is invalid"]
    broken = graph()
    levels = faiss.vector_to_array(broken.hnsw.levels)
    levels[0] = 9
    faiss.copy_array_to_vector(levels, broken.hnsw.levels)
    assert structure_problems(broken, "hnsw", n_vectors=40, dim=8)[0].startswith("the HNSW graph's")
    assert structure_problems(graph(), "hnsw", n_vectors=41, dim=8) == ["the faiss file holds 40 vectors, the "
                                                                         "passage map 41"]
    assert structure_problems(graph(), "flat", n_vectors=40, dim=8) == ["the faiss file holds a hnsw index, the "
                                                                         "manifest says flat"]


def test_resigned_row_idx_gets_exit_code_3_not_a_segfault(sources, tmp_path: Path) -> None:
    """The issue's probe: this killed ``kbrank search`` with SIGSEGV (rc 139) on every run."""
    index = _copy(sources["bm25"], tmp_path / "idx")
    _resigned(index, "bm25.rows", lambda a: np.full_like(a, 10**6))
    done = subprocess.run([sys.executable, "-m", "kbrank.cli", "search", str(index), "router reset"],
                          capture_output=True, text=True, env=_env(), timeout=300)
    assert done.returncode == 3, (done.returncode, done.stderr)
    assert "rows holds values outside [0, 8)" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


# -- hypothesis over manifests ----------------------------------------------------------------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, prefix + (i,))


@st.composite
def manifest_edits(draw, base: dict) -> dict:
    """A copy of ``base`` with one to three edits: a node replaced by any JSON value, a key removed, a key
    added, or a number nudged to an edge value."""
    data = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 3))):
        spots = list(_paths(data))
        spot = draw(st.sampled_from(spots[1:]))
        parent = data
        for key in spot[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "remove", "add", "edge"]))
        key = spot[-1]
        if action == "remove" and isinstance(parent, dict):
            del parent[key]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(JSON)
        elif action == "edge":
            parent[key] = draw(st.sampled_from([-1, 0, 1, 2**31, 2**63, -2**63, 1.5, -0.0, 1e308, "", True, None]))
        else:
            parent[key] = draw(JSON)
    return data


def _outcome(index: Path, encoder=None) -> str:
    """``"ok"`` or the kbrank error's class name; any other exception fails the test."""
    try:
        searcher = _load(index, encoder)
        for mode in searcher.available_modes():
            searcher.search("router wifi", k=3, mode=mode)
    except KBRankError as exc:
        assert str(exc)
        return type(exc).__name__
    return "ok"


def _manifest_fuzz(sources: dict[str, Path], tmp_path: Path, kind: str, examples: int,
                   encoder=None) -> dict[str, int]:
    """Run ``examples`` derandomized manifest edits on a copy of ``sources[kind]``; the outcome counts."""
    index = _copy(sources[kind], tmp_path / kind)
    base = manifest(index)
    counts: dict[str, int] = {}

    @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(edited=manifest_edits(base))
    def run(edited: dict) -> None:
        write_manifest(index, edited)
        outcome = _outcome(index, encoder)
        counts[outcome] = counts.get(outcome, 0) + 1

    run()
    print(f"manifest fuzz ({kind}): {sum(counts.values())} cases: {counts}")
    return counts


def test_manifest_fuzz_bm25(sources, tmp_path: Path) -> None:
    counts = _manifest_fuzz(sources, tmp_path, "bm25", MANIFEST_EXAMPLES["bm25"])
    assert sum(counts.values()) >= MANIFEST_EXAMPLES["bm25"] and counts.get("ok", 0) > 0
    assert counts["IndexFormatError"] > sum(counts.values()) // 2


def test_manifest_fuzz_hybrid(sources, tmp_path: Path) -> None:
    counts = _manifest_fuzz(sources, tmp_path, "hybrid", MANIFEST_EXAMPLES["hybrid"], HashEncoder())
    assert sum(counts.values()) >= MANIFEST_EXAMPLES["hybrid"] and counts.get("ok", 0) > 0


def test_manifest_fuzz_raw_documents(sources, tmp_path: Path) -> None:
    """Arbitrary bytes, arbitrary JSON, and kbrank-shaped envelopes with arbitrary content: never loadable."""
    index = _copy(sources["bm25"], tmp_path / "raw")
    seen = []

    @settings(max_examples=MANIFEST_EXAMPLES["raw"], derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(raw=st.one_of(st.binary(max_size=200), JSON.map(lambda v: json.dumps(v).encode()),
                         st.fixed_dictionaries({"format": st.just("kbrank-index"), "format_version": st.just(1),
                                                "kbrank_version": JSON, "components": JSON, "files": JSON}
                                               ).map(lambda v: json.dumps(v).encode())))
    def run(raw: bytes) -> None:
        (index / "manifest.json").write_bytes(raw)
        seen.append(_outcome(index))

    run()
    assert len(seen) >= MANIFEST_EXAMPLES["raw"] and "ok" not in seen


# -- index-file mutations in child processes --------------------------------------------------------------------
def _run_worker(kind: str, source: Path, work: Path, seeds: range) -> dict[int, str]:
    """Outcome per seed; a child that dies (a crash) is restarted after the case that killed it."""
    outcomes: dict[int, str] = {}
    first = seeds.start
    while first < seeds.stop:
        done = subprocess.run([sys.executable, str(HERE / "_fuzz_worker.py"), kind, str(source), str(work),
                               str(first), str(seeds.stop - 1)], capture_output=True, text=True, env=_env(),
                              timeout=900)
        cases = {}
        for line in done.stdout.splitlines():
            tag, seed, rest = (line.split(" ", 2) + [""])[:3]
            if tag == "CASE":
                cases[int(seed)] = rest
            elif tag == "RESULT":
                outcomes[int(seed)] = rest
        if done.returncode == 0:
            break
        crashed = max(cases, default=first)
        outcomes[crashed] = f"CRASH rc={done.returncode} after {cases.get(crashed, '?')}: {done.stderr[-300:]}"
        first = crashed + 1
    return outcomes


def _summary(outcomes: dict[int, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in outcomes.values():
        key = outcome.split(":")[0] if not outcome.startswith("kbrank:") and not outcome.startswith("exit:") \
            else outcome
        counts[key] = counts.get(key, 0) + 1
    return counts


@pytest.mark.parametrize("kind", ["bm25", "hybrid", "hnsw", "cli"])
def test_mutated_index_files_never_crash(sources, tmp_path: Path, kind: str) -> None:
    source = sources["bm25" if kind == "cli" else kind]
    worker_kind = "hybrid" if kind == "hnsw" else kind
    seeds = range(1, MUTATION_CASES[kind] + 1)
    outcomes = _run_worker(worker_kind, source, tmp_path, seeds)
    bad = {seed: o for seed, o in outcomes.items() if o.startswith(("FAIL", "CRASH"))}
    assert not bad, bad
    assert len(outcomes) == len(seeds)
    counts = _summary(outcomes)
    allowed = {"exit:0", "exit:3"} if kind == "cli" else {"ok", "kbrank:IndexFormatError"}
    assert set(counts) <= allowed, counts
    # both outcomes are exercised: most mutations are refused, some are harmless and load
    refused = counts.get("exit:3" if kind == "cli" else "kbrank:IndexFormatError", 0)
    assert refused > len(seeds) // 2 and refused < len(seeds), counts
    print(f"{kind}: {len(seeds)} mutation cases: {counts}")


def test_real_cli_on_mutated_indexes(sources, tmp_path: Path) -> None:
    """A bounded number of real ``kbrank search`` processes: exit code 0 or 3, one line on stderr, no crash."""
    from _mutations import mutate

    codes = {}
    for seed in CLI_SEEDS:
        index = _copy(sources["bm25"], tmp_path / f"case-{seed}")
        what = mutate(index, seed)
        done = subprocess.run([sys.executable, "-m", "kbrank.cli", "search", str(index), "router wifi"],
                              capture_output=True, text=True, env=_env(), timeout=300)
        assert done.returncode in (0, 3), (seed, what, done.returncode, done.stderr[-500:])
        assert "Traceback" not in done.stderr, (seed, what, done.stderr)
        if done.returncode == 3:
            assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("error:"), done.stderr
        codes[seed] = done.returncode
    assert 3 in codes.values()


@pytest.mark.slow
def test_minilm_hybrid_index_crafted_for_the_real_cli(minilm, tmp_path: Path) -> None:  # noqa: F811
    """The real all-MiniLM-L6-v2 hybrid index: a crafted passage map and faiss file get exit code 3 from the
    real CLI (which loads the model the manifest names), and the intact index still answers."""
    index = tmp_path / "minilm"
    Searcher(mode="hybrid", dense=DenseIndex(minilm)).build(help_corpus()).save(index)
    broken = _copy(index, tmp_path / "broken")
    _resigned(broken, "dense.passage_vector", lambda a: a + 10**6)
    outputs = {}
    for path, code in ((index, 0), (broken, 3)):
        done = subprocess.run([sys.executable, "-m", "kbrank.cli", "search", str(path), "forgot my password", "-k",
                               "2", "--json"], capture_output=True, text=True, env=_env(), timeout=600)
        assert done.returncode == code, done.stderr[-800:]
        assert "Traceback" not in done.stderr
        outputs[code] = done
    assert json.loads(outputs[0].stdout)["results"][0]["id"] == "password"
    assert "passage_vector does not map" in outputs[3].stderr


@settings(max_examples=200, derandomize=True, deadline=None, database=None)
@given(cells=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=20),
       off_by=st.integers(-1, 1))
def test_posting_check_agrees_with_a_plain_python_check(cells, off_by: int) -> None:
    """The loader's compiled one-pass check of the postings against a loop in plain Python."""
    from kbrank.index._bm25_postings import check_postings

    n_docs, n_terms = 6, 4
    entries = sorted({(t, d): c for d, t, c in cells}.items())  # (term, row) -> count, some counts 0
    col_ptr = np.zeros(n_terms + 1, np.int64)
    for (t, _), _c in entries:
        col_ptr[t + 1] += 1
    col_ptr = np.cumsum(col_ptr)
    rows = np.array([d for (_, d), _c in entries], np.int32)
    counts = np.array([c for _, c in entries], np.uint8)
    doc_len = np.zeros(n_docs, np.int64)
    for (_, d), c in entries:
        doc_len[d] += c
    doc_len[0] += off_by
    expected = 4 if off_by else 0  # the first problem, term by term, then the lengths
    for t in range(n_terms):
        own = [c for (term, _), c in entries if term == t]
        if not own or 0 in own:
            expected = 1 if not own else 3
            break
    assert check_postings(col_ptr, rows, counts, n_docs, doc_len) == expected
