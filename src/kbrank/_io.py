"""Small file helpers shared by every reader and writer: numbered lines and JSONL with exact line numbers,
atomic replacement, and the one checksum format (hex sha256, stored as ``"sha256"`` beside ``"bytes"``)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator

from .errors import InputError

__all__ = ["atomic_open", "fsync_dir", "iter_jsonl", "iter_lines", "sha256_bytes", "sha256_file", "unencodable_field"]

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
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise error(f"malformed JSON ({exc.msg} at column {exc.colno})", source=source, line=number,
                        fix="write one complete JSON object per line") from None
        except RecursionError:
            raise error("JSON nested too deeply to read", source=source, line=number,
                        fix="flatten the record: kbrank records nest a few levels at most") from None
        if _SURROGATE_ESCAPE.search(text):
            try:
                json.dumps(value, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                raise error("a string holds a lone UTF-16 surrogate escape (such as \\ud800)", source=source,
                            line=number, fix="write the character itself, or a valid surrogate pair") from None
        yield number, value


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


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Write to a temporary file beside ``path`` and rename it over ``path`` only if the block succeeds.

    A failure (or a crash) anywhere inside the block leaves the previous file untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    binary = "b" in mode
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
        fsync_dir(target.parent)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
