"""`IndexReader`: opens an index directory and trusts nothing in it until it has been checked.

It holds the directory's reader lock (`kbrank.storage.locks`) from before it reads ``manifest.json`` until
`close`, so a save running meanwhile keeps the files of this generation; use it as a context manager and
read every component inside the block. Memory-mapped arrays stay valid after `close`, even once a later
save has deleted their files (POSIX keeps an open or mapped file until it is closed).

Checked before any value is used: the manifest (`kbrank.storage.manifest`), each file's place (a regular
file inside the directory), size and sha256, and each ``.npy`` header (a plain numeric or bytes dtype, a
shape that matches the file's size exactly). The components then validate their arrays against each other
(`BM25State.validate`, `DenseState.validate`).
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import Any, Iterator, Literal, Mapping, TypeVar

import numpy as np
from pydantic import BaseModel

from .._io import iter_jsonl, sha256_and_newlines
from ..errors import IndexFormatError, InputError
from .lines import JsonlLines
from .locks import LOCK_TIMEOUT, ReaderLock
from .manifest import MANIFEST, FileEntry, check_section, inside, read_manifest
from .writer import directory_path

__all__ = ["IndexReader"]

M = TypeVar("M", bound=BaseModel)
_DTYPE_KINDS = frozenset("biufcS")
_REBUILD = "rebuild the index"


class IndexReader:
    """Opens an index directory and verifies every file before anything is used (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str], *, verify: bool = True,
                 lock_timeout: float = LOCK_TIMEOUT) -> None:
        self.path = directory_path(path)
        if not self.path.is_dir():
            problem = "is a file, not an index directory" if self.path.exists() else "no such index directory"
            raise IndexFormatError(problem, path=str(self.path), fix="build it with `kbrank index`")
        self._lock = ReaderLock(self.path, timeout=lock_timeout)
        weakref.finalize(self, self._lock.release)
        try:
            manifest = read_manifest(self.path)
            self.manifest: dict[str, Any] = manifest.model_dump()
            self.components: dict[str, Any] = self.manifest["components"]
            self._files: dict[str, FileEntry] = dict(manifest.files)
            self._newlines: dict[str, np.ndarray] = {}  # per JSONL file, found while checking its sha256
            if verify:
                for name in self._files:
                    self._verify(name)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the reader lock (arrays already loaded stay usable)."""
        self._lock.release()

    def __enter__(self) -> IndexReader:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # -- files -------------------------------------------------------------------------------------
    def _entry(self, name: str) -> FileEntry:
        entry = self._files.get(name)
        if entry is None:
            raise IndexFormatError(f"the manifest lists no file {name!r}", path=str(self.path / MANIFEST),
                                   fix=_REBUILD)
        return entry

    def _verify(self, name: str) -> Path:
        entry = self._entry(name)
        file_path = self.file(name)
        try:
            size = file_path.stat().st_size
            if size != entry.bytes:
                raise IndexFormatError(
                    f"file for {name!r} is truncated or changed ({size} bytes, manifest says {entry.bytes})",
                    path=str(file_path), fix=_REBUILD)
            digest, newlines = sha256_and_newlines(file_path, newlines=entry.path.endswith(".jsonl"))
        except OSError as exc:
            raise IndexFormatError(f"cannot read the file for {name!r} ({exc.strerror or exc})", path=str(file_path),
                                   fix="check the permissions, or rebuild the index") from None
        if digest != entry.sha256:
            raise IndexFormatError(f"checksum mismatch for {name!r}: the file was changed after saving",
                                   path=str(file_path), fix=_REBUILD)
        if newlines is not None:
            self._newlines[name] = newlines
        return file_path

    def has(self, name: str) -> bool:
        return name in self._files

    def file(self, name: str) -> Path:
        """The path of a listed file, which must be a regular file inside the directory."""
        entry = self._entry(name)
        found = inside(self.path, entry.path)
        if found is None:
            where = self.path / entry.path
            problem = "is missing" if not os.path.lexists(where) else "is not a regular file in the index directory"
            raise IndexFormatError(f"file for {name!r} {problem}", path=str(where), fix=_REBUILD)
        return found

    def section(self, model: type[M], name: str) -> M:
        """The component ``name`` validated against ``model`` (an `IndexFormatError` names the field)."""
        return check_section(model, self.components.get(name), where=str(self.path),
                             section=f"components.{name}")

    def component(self, model: type[M], name: str, *, written_by: str, what: str, fix: str) -> M:
        """`section` for a component that names the class that wrote it (its ``"class"``): an `IndexFormatError`
        "the index has no ``what`` component" when it is absent or written by another class."""
        record = self.components.get(name)
        if not isinstance(record, Mapping) or record.get("class") != written_by:
            raise IndexFormatError(f"the index has no {what} component {name!r}", path=str(self.path), fix=fix)
        return self.section(model, name)

    def array(self, name: str, *, mmap: bool = True) -> np.ndarray:
        """Load an ``.npy`` file (memory-mapped, read-only, by default), never allowing pickle.

        The header must give a plain numeric or bytes dtype and a shape whose size is exactly the file's.
        """
        path = self.file(name)
        where = str(path)
        try:
            with open(path, "rb") as handle:
                version = np.lib.format.read_magic(handle)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
                else:
                    raise ValueError(f"unsupported .npy format version {version}")
                offset = handle.tell()
                size = os.fstat(handle.fileno()).st_size
                if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None \
                        or dtype.kind not in _DTYPE_KINDS or not dtype.isnative:
                    raise ValueError(f"dtype {dtype.str} is not a plain number or bytes type in this machine's "
                                     "byte order")
                count = 1
                for extent in shape:
                    count *= int(extent)
                if offset + count * dtype.itemsize != size:
                    raise ValueError(f"the header says shape {shape} of {dtype}, which does not fill the "
                                     f"{size - offset} data bytes")
                order: Literal["C", "F"] = "F" if fortran else "C"
                if count == 0:
                    array = np.empty(shape, dtype=dtype, order=order)
                elif mmap:
                    array = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order=order)
                else:
                    array = np.fromfile(handle, dtype=dtype, count=count).reshape(shape, order=order)
        except (ValueError, OSError, EOFError, OverflowError, TypeError, SyntaxError) as exc:
            raise IndexFormatError(f"cannot read array {name!r} ({exc})", path=where, fix=_REBUILD) from None
        if not mmap or count == 0:
            array.setflags(write=False)
        return array

    def jsonl_lines(self, name: str) -> JsonlLines:
        """The records of a JSONL file, located when its checksum was verified and parsed on demand
        (`kbrank.storage.lines`): a file is read once to be trusted, then only the lines used are parsed."""
        path = self.file(name)
        try:
            newlines = self._newlines.get(name)
            if newlines is None:  # opened with verify=False
                newlines = sha256_and_newlines(path, newlines=True)[1]
            return JsonlLines(path, newlines if newlines is not None else np.empty(0, np.int64), name=name)
        except (OSError, ValueError) as exc:
            raise IndexFormatError(f"cannot read {name!r} ({exc})", path=str(path), fix=_REBUILD) from None

    def jsonl(self, name: str) -> Iterator[tuple[int, Any]]:
        """The records of a JSONL file; an unreadable line is an `IndexFormatError` (a crafted or damaged index)."""
        path = self.file(name)
        try:
            yield from iter_jsonl(path)
        except InputError as exc:
            raise IndexFormatError(f"cannot read {name!r}: {exc.problem}" + (f" on line {exc.line}" if exc.line else ""),
                                   path=str(path), fix=_REBUILD) from None
