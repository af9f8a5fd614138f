"""Index directories: a ``manifest.json`` plus ``.npy``, faiss and JSONL files, saved atomically, never pickled.

Layout::

    DIR/manifest.json              {"format": "kbrank-index", "format_version": 1, "kbrank_version": ...,
                                    "components": {"bm25": {...parameters...}, ...},
                                    "files": {"bm25.col_ptr": {"path": "bm25.col_ptr.3f9a...npy",
                                                               "sha256": "...", "bytes": 1234}, ...}}
    DIR/<name>.<sha256[:16]>.<ext> one file per array or blob, named by its content
    DIR/.kbrank.journal            the writer lock, and the files a save created that no manifest lists yet

Saving (`IndexWriter`, `kbrank.storage.writer`) is atomic without a second directory: new files get new
(content-derived) names beside the old ones, then ``manifest.json`` is replaced in one ``os.replace``, and
only then are the files that the previous manifest listed (and the new one does not) deleted. A crash at
any moment leaves a manifest whose files are all present. A save deletes nothing else: never a file
kbrank did not write, and it refuses a non-empty directory that is not a kbrank index unless told
``force``. One save at a time per directory (a lock file); a load meanwhile sees the old index or the new
one (`kbrank.storage.locks`).

Loading (`IndexReader`, `kbrank.storage.reader`) validates the manifest against a schema
(`kbrank.storage.manifest`), refuses file paths outside the directory, verifies every file's size and
sha256 and every array header before use, and refuses unknown format versions.
"""

from __future__ import annotations

import hashlib

from .locks import JOURNAL, LOCK_TIMEOUT
from .manifest import FORMAT, FORMAT_VERSION, MANIFEST, MAX_MANIFEST_BYTES, Section
from .reader import IndexReader
from .writer import IndexWriter, check_target

__all__ = ["IndexWriter", "IndexReader", "Section", "check_target", "content_digest", "FORMAT", "FORMAT_VERSION",
           "MANIFEST", "MAX_MANIFEST_BYTES", "JOURNAL", "LOCK_TIMEOUT"]


def content_digest(*parts: bytes) -> str:
    """A sha256 over byte strings (used for cache keys)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()
