"""`IndexWriter`: one save of an index directory, atomic, and never touching a file kbrank did not write.

A save

1. refuses a target it must not write (`check_target`): an empty path, an existing file, a non-empty
   directory that is not a kbrank index (unless ``force``), and always a ``manifest.json`` kbrank did not
   write (kbrank cannot save without replacing it, so it asks you to move it);
2. takes the writer lock (`kbrank.storage.locks`) and deletes what earlier, interrupted saves left behind
   (the journal's names, `kbrank.storage.journal`), unless a load still holds the old generation;
3. writes each file to a temporary name beside the others (``O_EXCL``, journaled), then renames it to its
   content name ``<name>.<sha256[:16]>.<ext>``; it never renames over a file that kbrank did not write;
4. on `commit`, replaces ``manifest.json`` in one ``os.replace`` and only then deletes files that the
   previous manifest listed and the new one does not (a listed file whose size changed since is kept: it
   was edited by someone else), and its own leftovers. A load that holds the reader lock keeps them alive
   until a later save.

A failure at any step (a full disk, a read-only directory, an unencodable record) raises a `kbrank.errors`
exception and leaves the previous index exactly as it was: `abort` removes everything this save created,
including the directory and its parents if the save created them.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import weakref
from pathlib import Path
from typing import IO, Any, Callable, Iterable

import numpy as np

from .._io import check_output_dir, fsync_dir, output_error, sha256_file
from .._version import __version__
from ..errors import InputError, KBRankError, OutputError, ParameterError
from .journal import TEMP_PREFIX, Journal
from .locks import JOURNAL, LOCK_TIMEOUT, WriterLock, try_exclusive_directory
from .manifest import FORMAT, FORMAT_VERSION, MANIFEST, listed_files, read_raw

__all__ = ["IndexWriter", "check_target", "directory_path"]

log = logging.getLogger("kbrank.storage")


def directory_path(path: Any, parameter: str = "path") -> Path:
    """``path`` as a `Path`; an empty path (which would mean the current directory) is a `ParameterError`."""
    try:
        raw = os.fspath(path)
    except TypeError:
        raise ParameterError(parameter, "a directory path (str or os.PathLike)", type(path).__name__) from None
    if isinstance(raw, bytes):
        raw = os.fsdecode(raw)
    if not raw.strip():
        raise ParameterError(parameter, "a non-empty directory path", raw,
                             hint="An empty path would mean the current directory; name the directory to write.")
    if "\x00" in raw:
        raise ParameterError(parameter, "a path without NUL characters", raw)
    return Path(raw)


def _names(entries: Iterable[str], limit: int = 3) -> str:
    entries = sorted(entries)
    shown = ", ".join(repr(e) for e in entries[:limit])
    return shown + (f" and {len(entries) - limit} more" if len(entries) > limit else "")


def check_target(path: Any, *, force: bool = False) -> dict[str, int]:
    """Whether a save may write into ``path``; returns the files an earlier kbrank manifest there listed
    (name -> recorded size). Raises `OutputError` (or `ParameterError` for an empty path) otherwise.

    A save may write into a new or empty directory, or one holding a kbrank index; with ``force`` also
    into another non-empty directory, beside its files (which it never deletes or overwrites). A
    ``manifest.json`` that kbrank did not write is refused even with ``force``: saving would replace it.
    """
    directory = directory_path(path)
    where = str(directory)
    check_output_dir(directory)
    if not os.path.lexists(directory):
        return {}
    try:
        entries = set(os.listdir(directory))
        raw = read_raw(directory) if MANIFEST in entries else None
    except OSError as exc:
        raise output_error(exc, directory, "list the directory") from None
    except KBRankError:  # manifest.json is a directory, a link out, unreadable, huge
        raw = b""
    if MANIFEST in entries:
        owned = listed_files(raw)
        if owned is None:
            raise OutputError("holds a manifest.json that is not a kbrank manifest (or is damaged); kbrank never "
                              "overwrites it, not even with force", path=where,
                              fix="move that manifest.json away, or choose another directory")
        return owned
    others = entries - {JOURNAL}
    if others and JOURNAL in entries:  # an interrupted first save: everything here is in its journal
        try:
            fd = os.open(directory / JOURNAL, os.O_RDONLY)
        except OSError as exc:
            raise output_error(exc, directory, "read the save journal") from None
        try:
            others -= Journal(fd).names()
        finally:
            os.close(fd)
    if others and not force:
        raise OutputError(f"is not empty and holds no kbrank index ({len(others)} entries: {_names(others)}); "
                          "kbrank saves only into a new or empty directory, or an index directory it wrote",
                          path=where, fix="choose another directory, or pass force=True (`kbrank index --force`) to "
                          "save beside these files (kbrank never deletes or overwrites them)")
    return {}


class IndexWriter:
    """Collects the files of one index directory, then `commit` swaps them in atomically.

    Use it as a context manager, so that a failure removes what the save created::

        with IndexWriter(path) as writer:
            writer.add_array("bm25.idf", idf)
            writer.components["bm25"] = {...}
            writer.commit()

    ``force`` allows a non-empty directory that is not a kbrank index (see `check_target`); ``lock_timeout``
    is how long to wait for another save of the same directory.
    """

    def __init__(self, path: str | os.PathLike[str], *, force: bool = False,
                 lock_timeout: float = LOCK_TIMEOUT) -> None:
        self.path = directory_path(path)
        self.force = force
        self.components: dict[str, dict[str, Any]] = {}
        self._files: dict[str, dict[str, Any]] = {}
        self._temps: set[str] = set()
        self._made: set[str] = set()
        self._leftovers: set[str] = set()
        self._created: list[Path] = []
        self._lock: WriterLock | None = None
        self._state = "open"
        check_target(self.path, force=force)
        try:
            self._create_directory()
            lock = self._lock = WriterLock(self.path, timeout=lock_timeout)
            weakref.finalize(self, lock.release)
            if lock.fd is None:  # pragma: no cover - a new lock holds its journal open until released
                raise RuntimeError("the writer lock was released while it was being taken")
            self._journal = Journal(lock.fd)
            self._owned = check_target(self.path, force=force)  # again, under the lock
            self._recover()
        except BaseException as exc:
            self.abort()
            if isinstance(exc, OSError) and not isinstance(exc, KBRankError):
                raise output_error(exc, self.path, "write into the directory") from None
            raise

    # -- setup -------------------------------------------------------------------------------------
    def _create_directory(self) -> None:
        missing = []
        for parent in (self.path, *self.path.parents):
            if os.path.lexists(parent):
                break
            missing.append(parent)
        for directory in reversed(missing):
            try:
                directory.mkdir()
            except FileExistsError:
                continue
            self._created.append(directory)

    def _recover(self) -> None:
        """Delete the files interrupted saves left (the journal's names that the manifest does not list)."""
        stale = self._journal.names() - set(self._owned) - {MANIFEST, JOURNAL}
        if stale:
            self._leftovers = self._delete(stale)
            self._journal.rewrite(self._leftovers)

    def _delete(self, names: set[str]) -> set[str]:
        """Delete ``names`` unless a load holds the directory; returns those still there."""
        fd = try_exclusive_directory(self.path)
        if fd is None:
            return set(names)
        try:
            return self._unlink(names)
        finally:
            os.close(fd)

    def _unlink(self, names: set[str]) -> set[str]:
        kept = set()
        for name in names:
            try:
                os.unlink(self.path / name)
            except FileNotFoundError:
                pass
            except OSError:
                kept.add(name)
        return kept

    # -- files -------------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._state != "open":
            raise RuntimeError(f"this IndexWriter is {self._state}; start a new one")

    def _new_temp(self, name: str) -> tuple[int, str]:
        while True:
            temp = f"{TEMP_PREFIX}{secrets.token_hex(8)}.{name}.tmp"
            try:
                fd = os.open(self.path / temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:  # pragma: no cover - 64 random bits
                continue
            except OSError as exc:
                raise output_error(exc, self.path, "write into the directory") from None
            self._temps.add(temp)
            try:
                self._journal.add(temp)
            except OSError as exc:
                os.close(fd)
                raise output_error(exc, self.path, "write the save journal") from None
            return fd, temp

    def _place(self, temp: str, final: str) -> None:
        """Rename ``temp`` to ``final``, which must be free or kbrank's own."""
        target = self.path / final
        ours = final in self._owned or final in self._made or final in self._leftovers
        if not ours and os.path.lexists(target):
            raise OutputError(f"saving would overwrite {final!r}, which kbrank did not write", path=str(self.path),
                              fix="move that file away, or save into another directory")
        if final not in self._owned:
            self._journal.add(final)
            self._made.add(final)
        os.replace(self.path / temp, target)
        self._temps.discard(temp)

    def _add(self, name: str, ext: str, *, stream: Callable[[IO[bytes]], None] | None = None,
             to_path: Callable[[Path], None] | None = None) -> None:
        self._check_open()
        if name in self._files:
            raise ValueError(f"file {name!r} added twice")
        if (stream is None) == (to_path is None):
            raise ValueError("pass exactly one of stream and to_path")
        fd, temp = self._new_temp(name)
        temp_path = self.path / temp
        try:
            if stream is not None:
                with os.fdopen(fd, "wb") as handle:
                    stream(handle)
                    handle.flush()
                    os.fsync(handle.fileno())
            elif to_path is not None:
                os.close(fd)
                to_path(temp_path)
                with open(temp_path, "rb+") as handle:
                    os.fsync(handle.fileno())
            digest = sha256_file(temp_path)
            size = temp_path.stat().st_size
            final = f"{name}.{digest[:16]}.{ext}"
            self._place(temp, final)
        except BaseException as exc:
            if not self._unlink({temp}):
                self._temps.discard(temp)
            if isinstance(exc, OSError) and not isinstance(exc, KBRankError):
                raise output_error(exc, self.path, f"write the index file {name!r}") from None
            raise
        self._files[name] = {"path": final, "sha256": digest, "bytes": size}

    def add_array(self, name: str, array: np.ndarray) -> None:
        """Store an array as ``.npy`` (never with pickle; object arrays are refused)."""
        array = np.ascontiguousarray(array)
        if array.dtype.hasobject:
            raise TypeError(f"array {name!r} has dtype object, which would need pickle")
        self._add(name, "npy", stream=lambda h: np.save(h, array, allow_pickle=False))

    def add_jsonl(self, name: str, records: Iterable[Any], *,
                  unencodable: Callable[[int, Any, str], Exception] | None = None) -> None:
        """Store records as JSON Lines (UTF-8). A record JSON or UTF-8 cannot store (a lone surrogate such as
        ``"\\ud800"``, NaN, a set) raises ``unencodable(record_number, record, reason)``, by default an
        `InputError`; the save then leaves nothing behind."""

        def stream(handle: IO[bytes]) -> None:
            for number, record in enumerate(records, start=1):
                try:
                    line = json.dumps(record, ensure_ascii=False, allow_nan=False).encode("utf-8")
                except UnicodeEncodeError:
                    reason = "holds a lone UTF-16 surrogate (such as \\ud800), which UTF-8 cannot store"
                except (TypeError, ValueError, RecursionError) as exc:
                    reason = f"holds a value JSON cannot store ({exc})"
                else:
                    handle.write(line)
                    handle.write(b"\n")
                    continue
                if unencodable is not None:
                    raise unencodable(number, record, reason)
                raise InputError(f"record {number} of {name!r} {reason}", fix="replace the value before saving")

        self._add(name, "jsonl", stream=stream)

    def add_blob(self, name: str, ext: str, write: Callable[[Path], None]) -> None:
        """A file written by a library to a path (for example ``faiss.write_index``)."""
        self._add(name, ext, to_path=write)

    # -- ending ------------------------------------------------------------------------------------
    def commit(self) -> None:
        """Atomically make the added files the directory's content, then delete files only the previous
        manifest (or an interrupted save) named."""
        self._check_open()
        manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "kbrank_version": __version__,
                    "components": self.components, "files": self._files}
        try:
            text = json.dumps(manifest, indent=2, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as exc:
            self.abort()
            raise InputError(f"the index settings hold a value JSON cannot store ({exc})",
                             fix="use plain finite numbers, strings, lists and dicts in every parameter") from None
        live = {entry["path"] for entry in self._files.values()}
        replaced = {n for n, size in self._owned.items() if n not in live and self._unchanged(n, size)}
        try:
            fd, temp = self._new_temp("manifest")
        except BaseException:
            self.abort()
            raise
        try:
            for name in replaced:  # journaled first, so a crash after the swap still lets a later save delete them
                self._journal.add(name)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            self._journal.sync()
            fsync_dir(self.path)
            os.replace(self.path / temp, self.path / MANIFEST)
        except BaseException as exc:
            self.abort()
            if isinstance(exc, OSError):
                raise output_error(exc, self.path, "write manifest.json") from None
            raise
        self._temps.discard(temp)
        self._state = "committed"  # the new generation is live: nothing of it may be removed now
        try:
            fsync_dir(self.path)
            garbage = replaced | ((self._made | self._leftovers | self._temps) - live)
            self._journal.rewrite(self._delete(garbage))
        except OSError as exc:  # the index is saved; only the old files could not be cleaned up yet
            log.warning("saved %s, but could not delete the previous files yet (%s)", self.path, exc)
        finally:
            self._release()

    def _unchanged(self, name: str, size: int) -> bool:
        try:
            actual = os.lstat(self.path / name).st_size
        except FileNotFoundError:
            return True
        except OSError:
            return False
        if actual != size:
            log.warning("keeping %s: its size changed since kbrank wrote it (edited by someone else?)", name)
            return False
        return True

    def abort(self) -> None:
        """Remove every file this save created (the previous index stays as it was) and release the lock."""
        if self._state != "open":
            return
        self._state = "aborted"
        try:
            if self._lock is not None and self._lock.fd is not None:
                kept = self._unlink(self._temps | self._made)
                self._journal.rewrite(self._leftovers | kept)
            self._remove_created()
        except OSError as exc:  # pragma: no cover - the next save cleans up from the journal
            log.warning("could not remove the files of an aborted save in %s (%s)", self.path, exc)
        finally:
            self._release()

    def _remove_created(self) -> None:
        """Remove the directories this save created, if nothing but the journal is in them."""
        for directory in reversed(self._created):
            try:
                if set(os.listdir(directory)) <= {JOURNAL}:
                    (directory / JOURNAL).unlink(missing_ok=True)
                    directory.rmdir()
            except OSError:
                return

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> IndexWriter:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.abort()  # a no-op after commit; otherwise the save failed or was not committed
