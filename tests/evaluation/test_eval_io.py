"""Qrels and runs: construction, TREC and BEIR files (round trips and errors), ranx and pandas conversions."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbrank.errors import InputError, ParameterError
from kbrank.evaluation import (
    Qrels,
    Run,
    read_beir_qrels,
    read_trec_qrels,
    read_trec_run,
    trec_order,
    write_beir_qrels,
    write_trec_qrels,
    write_trec_run,
)

# --- the types ---


def test_qrels_and_runs_are_immutable_copies() -> None:
    source = {"q1": {"d1": 1}}
    qrels = Qrels(source)
    source["q1"]["d1"] = 0
    assert qrels["q1"]["d1"] == 1
    with pytest.raises(TypeError):
        qrels["q1"]["d1"] = 5  # type: ignore[index]
    run = Run({"q1": {"d1": 1}}, name="x")
    with pytest.raises(AttributeError):
        run.name = "y"  # type: ignore[misc]
    assert run == {"q1": {"d1": 1.0}} and isinstance(run["q1"]["d1"], float)
    assert repr(run) == "Run(name='x', queries=1, pairs=1)"
    assert Run(run).name == "x" and Run(run, name="z").name == "z"


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: Qrels({"q": {"d": 1.5}}), r"qrels\['q'\]\['d'\] must be an integer grade"),
        (lambda: Qrels({"q": {"d": True}}), "integer grade"),
        (lambda: Qrels({1: {"d": 1}}), "qrels query id must be a non-empty string"),
        (lambda: Qrels({"q": ["d"]}), r"qrels\['q'\] must be a mapping"),
        (lambda: Run({"q": {"": 1.0}}), "doc id must be a non-empty string"),
        (lambda: Run({"q": {"d": float("nan")}}), "not NaN"),
        (lambda: Run({"q": {"d": "high"}}), "real-valued score"),
        (lambda: Run({"q": {"d": 1.0}}, name=3), "name must be a string"),
    ],
)
def test_bad_contents_are_refused_naming_the_entry(build, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        build()


def test_integral_float_grades_are_accepted() -> None:
    assert Qrels({"q": {"d": 2.0}})["q"]["d"] == 2


# --- round trips ---

IDS = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=" \t\n\r\x0b\x0c"),
    min_size=1,
    max_size=8,
)
SCORES = st.floats(allow_nan=False) | st.sampled_from([0.0, 1.0, 1.0 + 1e-12, -0.0])
GRADES = st.integers(-3, 10**6)


@settings(max_examples=150, deadline=None)
@given(
    data=st.dictionaries(IDS, st.dictionaries(IDS, SCORES, min_size=1, max_size=6), max_size=5),
    tag=IDS,
)
def test_trec_run_write_read_round_trip(tmp_path_factory: pytest.TempPathFactory, data, tag: str) -> None:
    path = tmp_path_factory.mktemp("run") / "run.trec"
    write_trec_run(Run(data), path, tag=tag)
    back = read_trec_run(path)
    assert back == Run(data)
    assert all(repr(back[q][d]) == repr(float(s)) for q, docs in data.items() for d, s in docs.items())
    if data:
        assert back.name == tag
    lines = path.read_text(encoding="utf-8").split("\n")[:-1]
    for query_id, docs in data.items():  # each query's lines are in trec_eval order, ranked 1, 2, 3, ...
        ours = [line.split(" ") for line in lines if line.split(" ")[0] == query_id]
        assert [fields[2] for fields in ours] == trec_order(docs)
        assert [fields[3] for fields in ours] == [str(r) for r in range(1, len(docs) + 1)]


@settings(max_examples=100, deadline=None)
@given(data=st.dictionaries(IDS, st.dictionaries(IDS, GRADES, min_size=1, max_size=6), max_size=5))
def test_qrels_write_read_round_trips(tmp_path_factory: pytest.TempPathFactory, data) -> None:
    folder = tmp_path_factory.mktemp("qrels")
    write_trec_qrels(data, folder / "qrels.txt")
    write_beir_qrels(data, folder / "test.tsv")
    assert read_trec_qrels(folder / "qrels.txt") == Qrels(data)
    assert read_beir_qrels(folder / "test.tsv") == Qrels(data)


def test_beir_ids_may_hold_spaces(tmp_path: Path) -> None:
    qrels = Qrels({"q 1": {"doc one": 1}})
    write_beir_qrels(qrels, tmp_path / "test.tsv")
    assert read_beir_qrels(tmp_path / "test.tsv") == qrels
    with pytest.raises(ParameterError, match="query id must be free of whitespace to be written as TREC"):
        write_trec_qrels(qrels, tmp_path / "qrels.txt")
    with pytest.raises(ParameterError, match="doc id must be free of whitespace"):
        write_trec_run({"q": {"d 1": 1.0}}, tmp_path / "run.trec")
    with pytest.raises(ParameterError, match="tabs and line breaks"):
        write_beir_qrels({"q\t1": {"d": 1}}, tmp_path / "bad.tsv")


def test_writes_are_atomic(tmp_path: Path) -> None:
    path = tmp_path / "run.trec"
    write_trec_run({"q": {"d": 1.0}}, path, tag="old")
    before = path.read_bytes()
    with pytest.raises(ParameterError):
        write_trec_run({"q": {"d": 1.0}, "q2": {"bad id": 1.0}}, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.trec"]


def test_reading_tolerates_blank_lines_crlf_and_repeated_spaces(tmp_path: Path) -> None:
    path = tmp_path / "run.trec"
    path.write_bytes(b"q1 Q0 d1 1 2.5 bm25\r\n\n  q1\tQ0  d2 2 1.5 bm25  \r\n")
    run = read_trec_run(path)
    assert run == {"q1": {"d1": 2.5, "d2": 1.5}} and run.name == "bm25"
    path.write_bytes(b"q1 Q0 d1 1 2.5 a\nq1 Q0 d2 2 1.5 b\n")
    assert read_trec_run(path).name == "run"  # mixed tags: the file's stem
    assert read_trec_run(path, name="mine").name == "mine"


def test_real_beir_qrels_read(beir_dir: Path) -> None:
    qrels = read_beir_qrels(beir_dir / "nfcorpus" / "qrels" / "test.tsv")
    assert len(qrels) == 323 and qrels.num_pairs == 12334
    assert {g for docs in qrels.values() for g in docs.values()} == {1, 2}


# --- errors that name the line ---

RUN_ERRORS = [
    ("q1 Q0 d1 1 2.5", None, "expected 6 whitespace-separated fields"),
    ("q1 Q0 d1 first 2.5 tag", "rank", "the rank is not an integer"),
    ("q1 Q0 d1 1 high tag", "score", "the score is not a number"),
    ("q1 Q0 d1 1 nan tag", "score", "the score is NaN"),
    ("q1 Q0 d0 1 2.5 tag", "docid", "document retrieved twice for query 'q1' (first on line 1)"),
]


@pytest.mark.parametrize(("bad", "field", "problem"), RUN_ERRORS)
def test_malformed_run_lines_name_file_line_and_field(tmp_path: Path, bad: str, field, problem: str) -> None:
    path = tmp_path / "run.trec"
    path.write_text(f"q1 Q0 d0 1 3.0 tag\n\nq1 Q0 dx 2 2.0 tag\n{bad}\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_trec_run(path)
    error = caught.value
    assert (error.source, error.line, error.field) == (str(path), 4, field)
    assert problem in str(error) and "Fix:" in str(error)
    assert str(error).startswith(f"{path}, line 4")


QRELS_ERRORS = [
    ("trec", "q1 0 d1", None, "expected 4 whitespace-separated fields"),
    ("trec", "q1 0 d1 1.5", "grade", "the grade is not an integer"),
    ("trec", "q1 0 d0 2", "docid", "duplicate judgment for query 'q1' (first on line 1)"),
    ("beir", "q1 d1 1", None, "expected 3 tab-separated fields"),
    ("beir", "q1\td1\tyes", "score", "the grade is not an integer"),
    ("beir", "q1\t\t1", "corpus-id", "empty id"),
]


@pytest.mark.parametrize(("kind", "bad", "field", "problem"), QRELS_ERRORS)
def test_malformed_qrels_lines_name_file_line_and_field(
    tmp_path: Path, kind: str, bad: str, field, problem: str
):
    good = "q1 0 d0 1\nq1 0 dx 0\n" if kind == "trec" else "query-id\tcorpus-id\tscore\nq1\td0\t1\n"
    path = tmp_path / "qrels"
    path.write_text(good + bad + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        (read_trec_qrels if kind == "trec" else read_beir_qrels)(path)
    assert (caught.value.line, caught.value.field) == (3, field)
    assert problem in str(caught.value)


def test_a_beir_file_without_its_header_says_so(tmp_path: Path) -> None:
    path = tmp_path / "test.tsv"
    path.write_text("q1\td1\t1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 1: expected the BEIR header .* Fix: add that header"):
        read_beir_qrels(path)


def test_bad_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "run.trec"
    path.write_bytes(b"q1 Q0 d1 1 1.0 t\nq1 Q0 d\xff 2 0.5 t\n")
    with pytest.raises(InputError, match="line 2: not valid UTF-8"):
        read_trec_run(path)


@settings(max_examples=100, deadline=None)
@given(
    lines=st.lists(
        st.tuples(st.sampled_from(["q1", "q2"]), st.integers(0, 10**6), SCORES), min_size=1, max_size=15
    ),
    position=st.integers(0, 15),
    corruption=st.sampled_from(["drop_field", "bad_rank", "bad_score", "extra_field"]),
)
def test_any_corrupted_line_is_reported_with_its_number(
    tmp_path_factory: pytest.TempPathFactory, lines, position: int, corruption: str
) -> None:
    text = [f"{q} Q0 doc{i}-{n} {i + 1} {s!r} tag" for i, (q, n, s) in enumerate(lines)]
    position = min(position, len(text))
    fields = text[min(position, len(text) - 1)].split(" ")
    if corruption == "drop_field":
        fields.pop(4)
    elif corruption == "bad_rank":
        fields[3] = "x" + fields[3]
    elif corruption == "bad_score":
        fields[4] = "score"
    else:
        fields.append("more")
    text.insert(position, " ".join(fields))
    path = tmp_path_factory.mktemp("bad") / "run.trec"
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_trec_run(path)
    assert caught.value.line == position + 1
    assert f"line {position + 1}" in str(caught.value)


# --- ranx and pandas ---

RUN = Run({"q1": {"d1": 2.5, "d2": 1.0}, "q2": {"d3": 0.5}}, name="bm25")
QRELS = Qrels({"q1": {"d1": 2, "d9": 0}, "q2": {"d3": 1}})


def test_ranx_round_trip() -> None:
    pytest.importorskip("ranx")
    ranx_run = RUN.to_ranx()
    assert ranx_run.name == "bm25"
    back = Run.from_ranx(ranx_run)
    assert back == RUN and back.name == "bm25"
    assert Qrels.from_ranx(QRELS.to_ranx()) == QRELS


def test_dataframe_round_trip() -> None:
    pytest.importorskip("pandas")
    frame = RUN.to_dataframe()
    assert list(frame.columns) == ["q_id", "doc_id", "score"] and len(frame) == 3
    assert Run.from_dataframe(frame, name="bm25") == RUN
    qrels_frame = QRELS.to_dataframe()
    assert list(qrels_frame.columns) == ["q_id", "doc_id", "grade"]
    assert Qrels.from_dataframe(qrels_frame) == QRELS


def test_dataframe_errors_name_columns_and_rows() -> None:
    pandas = pytest.importorskip("pandas")
    with pytest.raises(ParameterError, match=r"missing: \['grade'\]"):
        Qrels.from_dataframe(pandas.DataFrame({"q_id": ["q"], "doc_id": ["d"], "score": [1]}))
    duplicated = pandas.DataFrame({"q_id": ["q", "q"], "doc_id": ["d", "d"], "score": [1.0, 2.0]})
    with pytest.raises(InputError, match="DataFrame row 1, field 'doc_id': document retrieved twice"):
        Run.from_dataframe(duplicated)
