"""Saving never loses a user's data, and saving and loading stay correct while other processes do the same.

Issue 9's probes: a save deleted ``notes.tmp``, ``data.blob``, ``holiday.0123456789abcdef.jpg`` and
``archive.tar.0000000000000000.gz`` and overwrote a foreign ``manifest.json``; ``--out ""`` wrote into the
current directory; two processes saving to one directory raised raw ``FileNotFoundError`` (11 of 80 saves);
a load during a save failed (3 of 5). Also here: full and read-only disks, a lone surrogate in an id, a save
killed with SIGKILL, and the lock between writers.
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kbrank import (
    Article,
    BM25Index,
    Corpus,
    CorpusError,
    DenseIndex,
    IndexFormatError,
    OutputError,
    ParameterError,
    Searcher,
    storage,
)
from kbrank.storage import IndexReader, IndexWriter

SRC = Path(__file__).resolve().parents[2] / "src"
PROBES = ("notes.tmp", "data.blob", "holiday.0123456789abcdef.jpg", "archive.tar.0000000000000000.gz")


def _corpus(tag: str = "a", n: int = 12) -> Corpus:
    return Corpus(Article(id=f"{tag}-{i}", title=f"router {tag} {i % 3}", body="wifi reset firmware " * (i % 4 + 1))
                  for i in range(n))


def _searcher(tag: str = "a", n: int = 12) -> Searcher:
    return Searcher(mode="bm25").build(_corpus(tag, n))


def _listed(path: Path) -> set[str]:
    return {entry["path"] for entry in json.loads((path / "manifest.json").read_text())["files"].values()}


def _contents(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in path.iterdir() if p.is_file()}


# -- data loss --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PROBES)
def test_a_directory_with_a_foreign_file_is_refused_and_left_alone(tmp_path: Path, name: str) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / name).write_bytes(b"the user's own bytes")
    with pytest.raises(OutputError, match=rf"is not empty and holds no kbrank index \(1 entries: {name!r}\).*--force"):
        _searcher().save(target)
    assert _contents(target) == {name: b"the user's own bytes"}


def test_force_saves_beside_foreign_files_and_never_touches_them(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    for name in PROBES:
        (target / name).write_bytes(name.encode())
    _searcher("a").save(target, force=True)
    _searcher("b", 7).save(target)  # once it is a kbrank index, later saves need no force
    _searcher("c", 9).save(target)
    assert len(Searcher.load(target).state_.corpus) == 9
    names = {p.name for p in target.iterdir()}
    assert names == {"manifest.json", storage.JOURNAL, *PROBES} | _listed(target)
    assert all((target / name).read_bytes() == name.encode() for name in PROBES)


def test_a_save_deletes_only_files_an_earlier_manifest_listed(tmp_path: Path) -> None:
    target = tmp_path / "idx"
    _searcher("a").save(target)
    first = _listed(target)
    # files that look exactly like kbrank's own, but no manifest listed them
    lookalikes = {"bm25.data.0123456789abcdef.npy": b"mine", ".kbrank-0011223344556677.corpus.tmp": b"also mine",
                  "corpus.fedcba9876543210.jsonl": b"{}\n"}
    for name, data in lookalikes.items():
        (target / name).write_bytes(data)
    _searcher("b", 5).save(target)
    names = {p.name for p in target.iterdir()}
    assert not (first - _listed(target)) & names  # the previous generation is gone ...
    assert all((target / n).read_bytes() == d for n, d in lookalikes.items())  # ... the lookalikes are not


def test_a_listed_file_edited_by_someone_else_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "idx"
    _searcher("a").save(target)
    corpus_file = next(name for name in _listed(target) if name.startswith("corpus."))
    (target / corpus_file).write_text("edited by hand, longer than before " * 50)
    _searcher("b", 5).save(target)
    assert (target / corpus_file).read_text().startswith("edited by hand")


@pytest.mark.parametrize("force", [False, True])
def test_a_foreign_manifest_is_never_overwritten(tmp_path: Path, force: bool) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "manifest.json").write_text('{"mine": 1}')
    with pytest.raises(OutputError, match=r"holds a manifest.json that is not a kbrank manifest .* not even with "
                                          r"force. Fix: move that manifest.json away"):
        _searcher().save(target, force=force)
    assert _contents(target) == {"manifest.json": b'{"mine": 1}'}


@pytest.mark.parametrize("save", ["searcher", "bm25", "dense", "writer"])
@pytest.mark.parametrize("path", ["", "   "])
def test_an_empty_path_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, save: str, path: str) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParameterError, match=r"path must be a non-empty directory path.*current directory"):
        if save == "searcher":
            _searcher().save(path)
        elif save == "bm25":
            BM25Index().build(_corpus()).save(path)
        elif save == "dense":
            from _dense_helpers import HashEncoder

            DenseIndex(HashEncoder()).build(_corpus()).save(path)
        else:
            IndexWriter(path)
    assert list(tmp_path.iterdir()) == []


def test_a_file_or_a_path_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="exists and is not a directory"):
        _searcher().save(tmp_path / "file")
    with pytest.raises(OutputError, match=r"'.*file' is a file, so no directory can be made under it"):
        _searcher().save(tmp_path / "file" / "sub")
    assert (tmp_path / "file").read_text() == "x"


# -- unencodable text -------------------------------------------------------------------------------------------
def test_a_lone_surrogate_built_by_hand_stops_the_save_naming_the_article(tmp_path: Path) -> None:
    corpus = Corpus([Article(id="kb-1", title="fine"), Article(id="kb-\ud800", title="router")])
    searcher = Searcher(mode="bm25").build(corpus)  # in memory it works ...
    assert len(searcher.search("router")) == 1
    target = tmp_path / "new" / "idx"
    with pytest.raises(CorpusError, match=r"field 'id': article 'kb-\\ud800' \(row 2\) cannot be saved: the "
                                         r"text holds a lone UTF-16 surrogate"):
        searcher.save(target)  # ... but no file can hold it
    assert not (tmp_path / "new").exists()  # not even an empty directory is left behind
    title = Corpus([Article(id="kb-2", title="bad \udfff title")])
    with pytest.raises(CorpusError, match=r"field 'title': article 'kb-2' \(row 1\) cannot be saved"):
        BM25Index().build(title).save(tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_a_failed_save_into_an_index_keeps_it_whole(tmp_path: Path) -> None:
    target = tmp_path / "idx"
    _searcher("a").save(target)
    before = _contents(target)
    bad = Searcher(mode="bm25").build(Corpus([Article(id="x", title="router", metadata={"when": {1, 2}})]))
    with pytest.raises(CorpusError, match=r"article 'x' \(row 1\) cannot be saved"):
        bad.save(target)
    assert _contents(target) == before


# -- full and read-only disks -----------------------------------------------------------------------------------
def _failing(monkeypatch: pytest.MonkeyPatch, target: str, after: int, code: int) -> None:
    """Make the ``after``-th call of ``target`` (``np.save`` or ``os.fsync``) fail with ``code`` (a fake fault)."""
    module, name = (np, "save") if target == "np.save" else (os, target.split(".")[1])
    real = getattr(module, name)
    calls = {"n": 0}

    def fake(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == after:
            if target == "np.save":  # write part of the array first, as a filling disk does
                args[0].write(b"\x93NUMPY partial")
            raise OSError(code, os.strerror(code))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, fake)


@pytest.mark.parametrize("target, after", [("np.save", 1), ("np.save", 5), ("os.fsync", 3), ("os.replace", 4)])
def test_a_full_disk_leaves_the_previous_index_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      target: str, after: int) -> None:
    path = tmp_path / "idx"
    _searcher("a").save(path)
    before = _contents(path)
    newer = _searcher("b", 5)
    _failing(monkeypatch, target, after, errno.ENOSPC)
    with pytest.raises(OutputError, match=r"cannot write .*No space left on device.*Fix: free some disk space") as info:
        newer.save(path)
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC and isinstance(info.value, OSError)
    assert _contents(path) == before  # the journal too: the failed save left nothing, byte for byte
    assert [a.id for a in Searcher.load(path).state_.corpus] == [a.id for a in _corpus("a")]


def test_a_full_disk_on_a_first_save_leaves_no_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _failing(monkeypatch, "np.save", 2, errno.ENOSPC)
    with pytest.raises(OutputError, match="No space left"):
        _searcher().save(tmp_path / "a" / "b" / "idx")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def immutable(tmp_path: Path):
    """A directory nobody may write into, root included (``chattr +i``); skipped where that is impossible."""
    path = tmp_path / "readonly"
    path.mkdir()
    _searcher("a").save(path / "idx")
    flagged = []
    for directory in (path / "idx", path):
        done = subprocess.run(["chattr", "+i", str(directory)], capture_output=True)
        if done.returncode != 0:
            break
        flagged.append(directory)
    try:
        if len(flagged) < 2 or os.access(path, os.W_OK) and _can_create(path):
            pytest.skip("cannot make a read-only directory here (no chattr +i)")
        yield path
    finally:
        for directory in flagged:
            subprocess.run(["chattr", "-i", str(directory)], check=True)


def _can_create(path: Path) -> bool:
    try:
        (path / ".probe").touch()
    except OSError:
        return False
    (path / ".probe").unlink()
    return True


def test_a_read_only_directory_is_refused_and_still_loads(immutable: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _contents(immutable / "idx")
    with pytest.raises(OutputError, match=r"idx' is not writable. Fix: choose a place you may write to"):
        _searcher("b", 5).save(immutable / "idx")  # refused up front ...
    with pytest.raises(OutputError, match=r"readonly' is not writable"):
        _searcher("b", 5).save(immutable / "new")
    # ... and where the up-front check cannot tell (it trusts os.access), the failing write itself is reported
    monkeypatch.setattr("kbrank.storage.writer.check_output_dir", lambda path: None)
    with pytest.raises(OutputError, match=r"cannot write into the directory \(Operation not permitted\). Fix: "
                                          r"choose a place you may write to") as info:
        _searcher("b", 5).save(immutable / "idx")
    assert info.value.errno == errno.EPERM
    with pytest.raises(OutputError, match=r"Operation not permitted"):
        _searcher("b", 5).save(immutable / "new")
    assert _contents(immutable / "idx") == before
    assert len(Searcher.load(immutable / "idx").state_.corpus) == 12  # loading needs no write permission


# -- writers and readers at once --------------------------------------------------------------------------------
def test_a_second_writer_waits_then_says_who_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "idx"
    _searcher().save(path)
    first = IndexWriter(path)
    try:
        with pytest.raises(OutputError, match=r"another process has been saving an index into this directory "
                                              r"for 0.2 s"):
            IndexWriter(path, lock_timeout=0.2)
    finally:
        first.abort()
    IndexWriter(path, lock_timeout=0.2).abort()  # released


def test_a_loader_keeps_the_old_generation_until_it_is_done(tmp_path: Path) -> None:
    path = tmp_path / "idx"
    _searcher("a").save(path)
    old = _listed(path)
    with IndexReader(path) as reader:  # a load in progress: it read the old manifest
        _searcher("b", 5).save(path)
        assert old <= {p.name for p in path.iterdir()}  # its files are still there
        corpus = [record["id"] for _, record in reader.jsonl("corpus")]
        assert corpus == [a.id for a in _corpus("a")]
    assert len(Searcher.load(path).state_.corpus) == 5
    _searcher("c", 6).save(path)  # the next save removes what the loader kept alive
    assert {p.name for p in path.iterdir()} == {"manifest.json", storage.JOURNAL} | _listed(path)


def _save_loop(path: str, tag: str, n: int, rounds: int, queue) -> None:
    searcher = _searcher(tag, n)
    problems = []
    for _ in range(rounds):
        try:
            searcher.save(path)
        except Exception as exc:  # noqa: BLE001 - the test reports every failure
            problems.append(f"{type(exc).__name__}: {exc}")
    queue.put(("save", tag, problems))


def _load_loop(path: str, rounds: int, queue) -> None:
    problems, sizes = [], set()
    for _ in range(rounds):
        try:
            searcher = Searcher.load(path)
            sizes.add(len(searcher.state_.corpus))
            searcher.search("router wifi", k=3)
        except Exception as exc:  # noqa: BLE001
            problems.append(f"{type(exc).__name__}: {exc}")
    queue.put(("load", sorted(sizes), problems))


def test_two_saving_processes_and_a_loading_one_never_fail(tmp_path: Path) -> None:
    """Real processes: 2 x 40 saves of different searchers into one directory while a third loads 60 times.
    Each load sees one whole generation (12 or 7 articles), never an error."""
    path = tmp_path / "idx"
    _searcher("a", 12).save(path)
    context = multiprocessing.get_context("spawn" if sys.platform == "darwin" else "fork")
    queue = context.Queue()
    workers = [context.Process(target=_save_loop, args=(str(path), "a", 12, 40, queue)),
               context.Process(target=_save_loop, args=(str(path), "b", 7, 40, queue)),
               context.Process(target=_load_loop, args=(str(path), 60, queue))]
    for worker in workers:
        worker.start()
    reports = [queue.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert all(not report[-1] for report in reports), reports
    sizes = next(report[1] for report in reports if report[0] == "load")
    assert set(sizes) <= {12, 7} and sizes
    print("generations seen by the loader:", sizes)
    assert {p.name for p in path.iterdir()} - {"manifest.json", storage.JOURNAL} <= _listed(path) | set()


_KILLED_SAVE = """
import os, signal, sys
import numpy as np
sys.path.insert(0, {tests!r})
from test_storage_safety import _searcher
calls = {{"n": 0}}
real = np.save
def dying(*args, **kwargs):
    calls["n"] += 1
    real(*args, **kwargs)
    if calls["n"] == 4:
        os.kill(os.getpid(), signal.SIGKILL)
np.save = dying
_searcher("b", 5).save({path!r})
"""


@pytest.mark.parametrize("first", [False, True])
def test_a_save_killed_midway_is_cleaned_up_by_the_next_one(tmp_path: Path, first: bool) -> None:
    """SIGKILL in the middle of a save (``first``: the directory's first save). The previous index still loads;
    the files the dead save left are named in its journal, so the next save may and does delete them."""
    path = tmp_path / "idx"
    if not first:
        _searcher("a").save(path)
    before = set() if first else _listed(path)
    code = _KILLED_SAVE.format(tests=str(Path(__file__).parent), path=str(path))
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(SRC)},
                          capture_output=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr[-500:]
    if first:
        assert not (path / "manifest.json").exists()
        with pytest.raises(IndexFormatError, match="no manifest.json"):
            Searcher.load(path)
    else:
        assert _listed(path) == before and len(Searcher.load(path).state_.corpus) == 12
    strays = {p.name for p in path.iterdir()} - before - {"manifest.json", storage.JOURNAL}
    assert strays  # the killed save left its files behind, and its journal names them ...
    _searcher("c", 6).save(path)  # ... so no force is needed even after a first save died, and they go
    assert {p.name for p in path.iterdir()} == {"manifest.json", storage.JOURNAL} | _listed(path)


def test_copying_an_index_directory_keeps_it_loadable(tmp_path: Path) -> None:
    """The journal and lock file travel with a copy and mean nothing outside their directory."""
    _searcher("a").save(tmp_path / "idx")
    shutil.copytree(tmp_path / "idx", tmp_path / "copy")
    _searcher("b", 5).save(tmp_path / "copy")
    assert len(Searcher.load(tmp_path / "idx").state_.corpus) == 12
    assert len(Searcher.load(tmp_path / "copy").state_.corpus) == 5


def test_the_embedding_cache_compaction_deletes_only_its_own_segments(tmp_path: Path) -> None:
    from kbrank.index.embedding_cache import EmbeddingCache

    cache = EmbeddingCache(tmp_path, fingerprint="f" * 64, dim=2)
    cache.put(["a"], np.array([[0.6, 0.8]], np.float32))
    cache.put(["b"], np.array([[0.8, 0.6]], np.float32))
    foreign = {"seg.notes.txt": b"mine", "seg.budget.xlsx": b"mine too", "seg.0123.npy": b"and this"}
    for name, data in foreign.items():
        (cache.folder / name).write_bytes(data)
    cache.compact()
    assert all((cache.folder / name).read_bytes() == data for name, data in foreign.items())
    assert len([p for p in cache.folder.iterdir() if p.name not in foreign]) == 2  # one merged segment
