"""`JsonlLines`: the records of a verified JSONL file of an index directory, parsed one line at a time.

An `IndexReader` finds where each line starts in the same pass that checks the file's sha256
(`kbrank._io.sha256_and_newlines`), so a file is read once to be trusted and located; its records are then
parsed from a read-only memory map only when asked for (`record`). A corpus of 100k articles is about 110 MB of JSONL: a
search that shows ten of them parses ten lines, and the pages it never touches are never read again.

Lines follow `kbrank._io.iter_lines`: split at ``\\n``, a trailing ``\\r`` and a UTF-8 byte order mark on
the first line are dropped, empty lines are skipped (a line of spaces is a record, and is refused as
malformed JSON); line numbers count every line. A damaged line is an `IndexFormatError` naming the file and
the line, when it is parsed.
"""

from __future__ import annotations

import mmap
from pathlib import Path
from typing import Any

import numpy as np

from .._io import json_line
from ..errors import IndexFormatError, InputError

__all__ = ["JsonlLines"]

_BOM = b"\xef\xbb\xbf"
_REBUILD = "rebuild the index"


class JsonlLines:
    """The non-empty lines of a JSONL file, located by `kbrank._io.sha256_and_newlines`, parsed on demand.

    Built by `IndexReader.jsonl_lines` while the reader holds the directory's lock; the memory map stays valid
    after the reader is closed, and after a later save has deleted the file.
    """

    def __init__(self, path: Path, newlines: np.ndarray, *, name: str) -> None:
        self.path = path
        self.name = name
        size = path.stat().st_size
        ends = newlines if (newlines.size and newlines[-1] == size - 1) or size == 0 \
            else np.append(newlines, size)  # a last line without its newline
        starts = np.empty_like(ends)
        starts[:1] = 0
        starts[1:] = ends[:-1] + 1
        keep = ends > starts
        self._starts = starts[keep]
        self._ends = ends[keep]
        self._numbers = None if keep.all() else np.flatnonzero(keep) + 1  # line numbers, when some are empty
        self._map: mmap.mmap | None = None
        if size:
            with open(path, "rb") as handle:
                self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)

    def __len__(self) -> int:
        return int(self._starts.shape[0])

    def line(self, i: int) -> int:
        """The 1-based line number of record ``i``."""
        return int(self._numbers[i]) if self._numbers is not None else i + 1

    def raw(self, i: int) -> bytes:
        """The bytes of record ``i``, without its line ending."""
        if not 0 <= i < len(self) or self._map is None:
            raise IndexError(i)
        raw = self._map[int(self._starts[i]):int(self._ends[i])]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if i == 0 and raw.startswith(_BOM) and self._starts[0] == 0:
            raw = raw[len(_BOM):]
        return raw

    def record(self, i: int) -> Any:
        """Record ``i``, parsed with `kbrank._io.json_line`'s checks; a damaged line is an `IndexFormatError`."""
        line = self.line(i)
        try:
            text = self.raw(i).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise IndexFormatError(f"cannot read {self.name!r}: not valid UTF-8 ({exc.reason}) on line {line}",
                                   path=str(self.path), fix=_REBUILD) from None
        try:
            return json_line(text, source=str(self.path), line=line)
        except InputError as exc:
            raise IndexFormatError(f"cannot read {self.name!r}: {exc.problem} on line {line}", path=str(self.path),
                                   fix=_REBUILD) from None
