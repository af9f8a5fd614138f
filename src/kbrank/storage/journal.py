"""``DIR/.kbrank.journal``: the names of files kbrank created in an index directory that no manifest may list yet.

A save appends each temporary and content-named file to the journal right after creating it (with
``O_EXCL``, so the name was free: kbrank made it). At the end of the save the journal is rewritten with
what is still not cleaned up (files an open load may still need), and the next save deletes those. So a
save can prove which files it may delete: those a kbrank manifest of the directory listed, and those in
the journal. A crash (``kill -9``) between creating a file and journaling it leaves at most one stray
temporary file, which is never deleted because it cannot be proven to be kbrank's.

One JSON string per line; a torn last line (a crash while appending) is ignored.
"""

from __future__ import annotations

import json
import os

from .manifest import is_safe_name

__all__ = ["Journal", "is_temporary"]

#: Prefix of every temporary file a save creates (then ``<hex>.<name>.tmp``).
TEMP_PREFIX = ".kbrank-"


def is_temporary(name: str) -> bool:
    return name.startswith(TEMP_PREFIX) and name.endswith(".tmp") and "/" not in name and ".." not in name


def _deletable(name: object) -> bool:
    return isinstance(name, str) and (is_safe_name(name) or is_temporary(name))


class Journal:
    """The journal behind an open file descriptor (the writer lock's; see `kbrank.storage.locks`)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def names(self) -> set[str]:
        """The names recorded (only plain or kbrank-temporary names; anything else is ignored)."""
        size = os.fstat(self.fd).st_size
        raw = os.pread(self.fd, size, 0) if size else b""
        out = set()
        for line in raw.split(b"\n"):
            try:
                name = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if _deletable(name):
                out.add(name)
        return out

    def add(self, name: str) -> None:
        os.lseek(self.fd, 0, os.SEEK_END)
        os.write(self.fd, json.dumps(name).encode("ascii") + b"\n")

    def rewrite(self, names: set[str]) -> None:
        os.ftruncate(self.fd, 0)
        if names:
            os.pwrite(self.fd, "".join(json.dumps(n) + "\n" for n in sorted(names)).encode("ascii"), 0)
        os.fsync(self.fd)

    def sync(self) -> None:
        os.fsync(self.fd)
