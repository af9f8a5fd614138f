"""Small file helpers shared by every reader and writer: numbered lines and JSONL with exact line numbers,
atomic replacement, the one checksum format (hex sha256, stored as ``"sha256"`` beside ``"bytes"``), and
the one way an operating-system failure to write becomes a `kbrank.errors.OutputError`."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator

from .errors import InputError, KBRankError, OutputError

__all__ = ["atomic_open", "check_output_dir", "fsync_dir", "iter_jsonl", "iter_lines", "json_line", "output_error",
           "sha256_and_newlines", "sha256_bytes", "sha256_file", "unencodable_field"]

_BOM = b"\xef\xbb\xbf"
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def iter_lines(path: str | os.PathLike[str], *, error: type[InputError] = InputError,
               what: str = "file") -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each non-blank line, without its line ending.

    Bytes are decoded one line at a time, so a bad byte is reported on its own line; a UTF-8 byte order
    mark at the start is accepted (as ``utf-8-sig`` does). Problems raise ``error`` (an `InputError`) naming
    the file, the line and the fix.
    """
    source = str(path)
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise error("file not found", source=source, fix="check the path") from None
    except IsADirectoryError:
        raise error(f"expected a {what}, found a directory", source=source,
                    fix=f"point at the {what} inside the folder") from None
    except OSError as exc:
        raise error(f"cannot read the file ({exc.strerror or exc})", source=source,
                    fix="check the path and its permissions") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM):]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise error(f"not valid UTF-8 ({exc.reason} at byte {exc.start + 1} of the line)", source=source,
                            line=number, fix="re-save the file as UTF-8") from None
            text = text.rstrip("\r\n")
            if text.strip():
                yield number, text


def iter_jsonl(path: str | os.PathLike[str], *, error: type[InputError] = InputError,
               what: str = "JSONL file") -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, parsed_object)`` for each non-blank line of a JSON Lines file.

    Malformed JSON, nesting too deep to parse and strings holding lone UTF-16 surrogates (``"\\ud800"``,
    which no UTF-8 file can store) raise ``error`` with the file, the line and the fix.
    """
    source = str(path)
    for number, text in iter_lines(path, error=error, what=what):
        yield number, json_line(text, source=source, line=number, error=error)


def json_line(text: str, *, source: str, line: int, error: type[InputError] = InputError) -> Any:
    """One line of a JSON Lines file, parsed, with `iter_jsonl`'s checks (malformed JSON, nesting too deep,
    lone UTF-16 surrogate escapes) raising ``error`` with the file, the line and the fix."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"malformed JSON ({exc.msg} at column {exc.colno})", source=source, line=line,
                    fix="write one complete JSON object per line") from None
    except RecursionError:
        raise error("JSON nested too deeply to read", source=source, line=line,
                    fix="flatten the record: kbrank records nest a few levels at most") from None
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise error("a string holds a lone UTF-16 surrogate escape (such as \\ud800)", source=source,
                        line=line, fix="write the character itself, or a valid surrogate pair") from None
    return value


def unencodable_field(value: Any, path: str = "", depth: int = 0) -> str | None:
    """The path (``title``, ``metadata.notes[2]``) of the first string in ``value`` that UTF-8 cannot hold (a
    lone surrogate, such as ``"\\ud800"``), or ``None``. Records built in Python (not read from a file) can
    carry one; every kbrank file is UTF-8, so it is refused at load, naming the field."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "(value)"
        return None
    if depth > 64:
        return None  # deeper structures are refused by their own validators
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                continue  # a non-string key is refused by the validators, with its own message
            if unencodable_field(key) is not None:
                return f"{path}.(a field name)".lstrip(".")
            found = unencodable_field(item, f"{path}.{key}".lstrip("."), depth + 1)
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = unencodable_field(item, f"{path}[{index}]", depth + 1)
            if found:
                return found
    return None


def sha256_bytes(data: bytes) -> str:
    """The hex sha256 of a byte string (the checksum format of every kbrank file)."""
    return hashlib.sha256(data).hexdigest()


def fsync_dir(path: Path) -> None:
    """Flush a directory entry to disk so that a rename inside it survives a crash."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def output_error(exc: OSError, path: str | os.PathLike[str], doing: str) -> OutputError:
    """An `OutputError` for an operating-system failure while ``doing`` something to ``path``, with a fix
    that fits the cause (a full disk, no permission, a file where a directory belongs, ...)."""
    code = exc.errno
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1), errno.EFBIG):
        fix = "free some disk space and try again (what was there before is intact)"
    elif code in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "choose a place you may write to"
    elif code in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
        fix = "part of the path is a file where a directory belongs (or the reverse): choose another path"
    elif code == errno.ENAMETOOLONG:
        fix = "choose a shorter path"
    else:
        fix = "check the path, the permissions and the free space"
    return OutputError(f"cannot {doing} ({exc.strerror or exc})", path=str(path), fix=fix, errno=code)


def check_output_dir(path: str | os.PathLike[str]) -> None:
    """Refuse, before any work, a directory path that cannot be written: one that exists as a file, lies
    under a file, or whose nearest existing ancestor is not writable. Raises `OutputError`."""
    target = Path(path)
    if os.path.lexists(target) and not target.is_dir():
        raise OutputError("exists and is not a directory", path=str(target),
                          fix="choose a new directory, or one written by kbrank")
    for ancestor in (target, *target.parents):
        if os.path.lexists(ancestor):
            if not ancestor.is_dir():
                raise OutputError(f"{str(ancestor)!r} is a file, so no directory can be made under it",
                                  path=str(target), fix="choose another path")
            if not os.access(ancestor, os.W_OK | os.X_OK):
                raise OutputError(f"{str(ancestor)!r} is not writable", path=str(target),
                                  fix="choose a place you may write to")
            return


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Write to a temporary file beside ``path`` and rename it over ``path`` only if the block succeeds.

    A failure (or a crash) anywhere inside the block leaves the previous file untouched. An
    operating-system failure (no permission, a full disk, a file where a directory belongs) is raised as
    `OutputError` naming ``path``.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise output_error(exc, target, "create the file") from None
    binary = "b" in mode
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
        fsync_dir(target.parent)
    except BaseException as exc:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and not isinstance(exc, KBRankError):
            raise output_error(exc, target, "write the file") from None
        raise


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """The hex sha256 of a file, read in chunks."""
    return sha256_and_newlines(path, newlines=False, chunk=chunk)[0]


def sha256_and_newlines(path: str | os.PathLike[str], *, newlines: bool,
                        chunk: int = 1 << 20) -> tuple[str, Any]:
    """The hex sha256 of a file and, when ``newlines``, the offset of each ``\\n`` in it (an int64 numpy
    array; else ``None``), in one read. The file is read in chunks with ``read``, never mapped, so checking
    a large file does not grow the process's resident memory by the file's size."""
    import numpy as np

    digest = hashlib.sha256()
    found: list[Any] = []
    base = 0
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
            if newlines:
                at = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
                if at.size:
                    found.append(at + base)
            base += len(block)
    if not newlines:
        return digest.hexdigest(), None
    return digest.hexdigest(), (np.concatenate(found) if found else np.empty(0, np.int64)).astype(np.int64)
