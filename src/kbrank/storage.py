"""Index directories: a ``manifest.json`` plus ``.npy``, faiss and JSONL files, saved atomically, never pickled.

Layout::

    DIR/manifest.json              {"format": "kbrank-index", "format_version": 1, "kbrank_version": ...,
                                    "components": {"bm25": {...parameters...}, ...},
                                    "files": {"bm25.col_ptr": {"path": "bm25.col_ptr.3f9a...npy",
                                                               "sha256": "...", "bytes": 1234}, ...}}
    DIR/<name>.<sha256[:16]>.<ext> one file per array or blob, named by its content

Saving is atomic without a second directory: new files get new (content-derived) names beside the old
ones, then ``manifest.json`` is replaced in one ``os.replace``, and only then are files the new manifest
does not name deleted. A crash at any moment leaves a manifest whose files are all present.

Loading verifies every file's size and sha256 before use and refuses unknown format versions.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from ._io import atomic_open, fsync_dir, iter_jsonl, sha256_file
from ._version import __version__
from .errors import IndexFormatError, InputError

__all__ = ["IndexWriter", "IndexReader", "FORMAT_VERSION", "MANIFEST"]

FORMAT = "kbrank-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_OWNED = re.compile(r"^[\w.+-]+\.[0-9a-f]{16}\.[a-z0-9]+$")


class IndexWriter:
    """Collects the files of one index directory, then `commit` swaps them in atomically."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.components: dict[str, dict[str, Any]] = {}
        self._files: dict[str, dict[str, Any]] = {}
        self.path.mkdir(parents=True, exist_ok=True)

    def _add(self, name: str, ext: str, write: Callable[[Any], None], binary: bool) -> None:
        if name in self._files:
            raise ValueError(f"file {name!r} added twice")
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.path)
        try:
            with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            digest = sha256_file(tmp)
            final = f"{name}.{digest[:16]}.{ext}"
            os.replace(tmp, self.path / final)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        self._files[name] = {"path": final, "sha256": digest, "bytes": (self.path / final).stat().st_size}

    def add_array(self, name: str, array: np.ndarray) -> None:
        """Store an array as ``.npy`` (never with pickle; object arrays are refused)."""
        array = np.ascontiguousarray(array)
        if array.dtype.hasobject:
            raise TypeError(f"array {name!r} has dtype object, which would need pickle")
        self._add(name, "npy", lambda h: np.save(h, array, allow_pickle=False), binary=True)

    def add_jsonl(self, name: str, records: Iterable[Any]) -> None:
        def write(handle: Any) -> None:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False))
                handle.write("\n")

        self._add(name, "jsonl", write, binary=False)

    def add_blob(self, name: str, ext: str, write: Callable[[Path], None]) -> None:
        """A file written by a library to a path (for example ``faiss.write_index``)."""
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".blob", dir=self.path)
        os.close(fd)
        try:
            write(Path(tmp))

            def copy(handle: Any) -> None:
                with open(tmp, "rb") as source:
                    while block := source.read(1 << 20):
                        handle.write(block)

            self._add(name, ext, copy, binary=True)
        finally:
            os.unlink(tmp)

    def commit(self) -> None:
        """Atomically make the added files the directory's content, then delete files nobody names."""
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "kbrank_version": __version__,
            "components": self.components,
            "files": self._files,
        }
        fsync_dir(self.path)
        with atomic_open(self.path / MANIFEST, "w") as handle:
            json.dump(manifest, handle, indent=2, sort_keys=True)
        keep = {entry["path"] for entry in self._files.values()}
        for child in self.path.iterdir():
            if child.name not in keep and (_OWNED.match(child.name) or child.name.endswith((".tmp", ".blob"))):
                child.unlink(missing_ok=True)


class IndexReader:
    """Opens an index directory and verifies every file before anything is used."""

    def __init__(self, path: str | os.PathLike[str], *, verify: bool = True) -> None:
        self.path = Path(path)
        manifest_path = self.path / MANIFEST
        if not self.path.is_dir():
            raise IndexFormatError("no such index directory", path=str(self.path), fix="build it with `kbrank index`")
        try:
            text = manifest_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise IndexFormatError(
                "no manifest.json: not a kbrank index (or an interrupted first save)",
                path=str(self.path),
                fix="build the index again",
            ) from None
        try:
            manifest = json.loads(text)
        except json.JSONDecodeError as exc:
            raise IndexFormatError(f"manifest.json is not valid JSON ({exc.msg})", path=str(manifest_path)) from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise IndexFormatError("manifest.json is not a kbrank index manifest", path=str(manifest_path))
        version = manifest.get("format_version")
        if version != FORMAT_VERSION:
            raise IndexFormatError(
                f"unknown index format version {version!r} (this kbrank {__version__} reads version {FORMAT_VERSION})",
                path=str(manifest_path),
                fix="rebuild the index with this kbrank version, or install the kbrank version that wrote it "
                f"({manifest.get('kbrank_version', 'unknown')})",
            )
        self.manifest: dict[str, Any] = manifest
        self.components: dict[str, Any] = manifest.get("components", {})
        self._files: dict[str, Any] = manifest.get("files", {})
        if verify:
            for name in self._files:
                self._verify(name)

    def _verify(self, name: str) -> Path:
        entry = self._files[name]
        file_path = self.path / entry["path"]
        if not file_path.exists():
            raise IndexFormatError(f"file for {name!r} is missing", path=str(file_path), fix="rebuild the index")
        size = file_path.stat().st_size
        if size != entry["bytes"]:
            raise IndexFormatError(
                f"file for {name!r} is truncated or changed ({size} bytes, manifest says {entry['bytes']})",
                path=str(file_path),
                fix="rebuild the index",
            )
        if sha256_file(file_path) != entry["sha256"]:
            raise IndexFormatError(
                f"checksum mismatch for {name!r}: the file was changed after saving",
                path=str(file_path),
                fix="rebuild the index",
            )
        return file_path

    def has(self, name: str) -> bool:
        return name in self._files

    def file(self, name: str) -> Path:
        if name not in self._files:
            raise IndexFormatError(f"the manifest lists no file {name!r}", path=str(self.path / MANIFEST))
        return self.path / self._files[name]["path"]

    def array(self, name: str, *, mmap: bool = True) -> np.ndarray:
        """Load an ``.npy`` file (memory-mapped by default), never allowing pickle."""
        try:
            return np.load(self.file(name), mmap_mode="r" if mmap else None, allow_pickle=False)
        except ValueError as exc:
            raise IndexFormatError(f"cannot read array {name!r}: {exc}", path=str(self.file(name))) from None

    def jsonl(self, name: str) -> Iterator[tuple[int, Any]]:
        """The records of a JSONL file; an unreadable line is an `IndexFormatError` (a crafted or damaged index)."""
        path = self.file(name)
        try:
            yield from iter_jsonl(path)
        except InputError as exc:
            raise IndexFormatError(f"cannot read {name!r}: {exc.problem}" + (f" on line {exc.line}" if exc.line else ""),
                                   path=str(path), fix="rebuild the index") from None


def content_digest(*parts: bytes) -> str:
    """A sha256 over byte strings (used for cache keys)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()
