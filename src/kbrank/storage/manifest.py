"""``manifest.json``: reading it without trusting it, and the schema every manifest must follow (pydantic v2).

Reading refuses, with an `IndexFormatError` naming the file and the field: a manifest that is not a regular
file inside the directory, larger than `MAX_MANIFEST_BYTES`, not UTF-8, not JSON (or nested too deeply, or
holding NaN or infinite numbers), of another format or format version, or off the schema below. A file
entry's ``path`` must be a plain file name in the index directory: no ``/``, no ``..``, no absolute path,
no leading dot; a symbolic link is followed only to a regular file in the same directory.

Each component checks its own section with `check_section` and its own pydantic model, so a bad section
is reported as ``manifest.json, components.bm25.params: ...`` before any array is read.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from .._version import __version__
from ..errors import IndexFormatError

__all__ = ["FORMAT", "FORMAT_VERSION", "MANIFEST", "MAX_MANIFEST_BYTES", "Manifest", "FileEntry", "Section",
           "check_section", "read_manifest", "inside", "is_safe_name", "listed_files"]

FORMAT = "kbrank-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: A manifest is a few kilobytes; anything above this is refused before it is read.
MAX_MANIFEST_BYTES = 16 << 20
_SAFE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,254}")
_REBUILD = "rebuild the index (the manifest was changed or damaged)"

M = TypeVar("M", bound=BaseModel)


def is_safe_name(name: object) -> bool:
    """Whether ``name`` is a plain file name kbrank may read or delete in an index directory."""
    return isinstance(name, str) and _SAFE.fullmatch(name) is not None and ".." not in name and name != MANIFEST


def _safe_name(name: str) -> str:
    if not is_safe_name(name):
        raise ValueError("must be a plain file name inside the index directory (letters, digits, '_', '.', '+', "
                         "'-'; no '/', no '..', no absolute path, no leading dot)")
    return name


SafeName = Annotated[str, AfterValidator(_safe_name)]


class Section(BaseModel):
    """Base of every manifest section: strict JSON types, unknown keys refused, read-only."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


class FileEntry(Section):
    path: SafeName
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    bytes: Annotated[int, Field(ge=0)]


class Manifest(Section):
    format: Literal["kbrank-index"]
    format_version: Literal[1]
    kbrank_version: str
    components: dict[str, dict[str, Any]]
    files: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.+-]{1,200}$")], FileEntry]


def _first_problem(exc: ValidationError, prefix: str) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    where = ".".join([prefix] * bool(prefix) + [str(part) for part in first["loc"]])
    message = first["msg"].removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more problem{'s' * (len(errors) > 2)})" if len(errors) > 1 else ""
    return f"{where}: {message}{more}" if where else message + more


def check_section(model: type[M], data: Any, *, where: str, section: str) -> M:
    """``data`` validated against ``model``; else an `IndexFormatError` naming ``section`` and the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise IndexFormatError(f"manifest.json, {_first_problem(exc, section)}", path=where, fix=_REBUILD) from None


def inside(directory: Path, name: str) -> Path | None:
    """``directory / name`` if it is a regular file there (a link only to a regular file in ``directory``)."""
    candidate = directory / name
    try:
        info = os.lstat(candidate)
        if stat.S_ISLNK(info.st_mode):
            target = candidate.resolve(strict=True)
            if target.parent != directory.resolve(strict=True):
                return None
            info = os.stat(target)
    except (OSError, RuntimeError):
        return None
    return candidate if stat.S_ISREG(info.st_mode) else None


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number out of range ({text[:20]})")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(raw: bytes, where: str) -> Any:
    """The JSON value of a manifest's bytes, or an `IndexFormatError` (not UTF-8, not JSON, too deep, NaN)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IndexFormatError(f"manifest.json is not valid UTF-8 (byte {exc.start + 1})", path=where,
                               fix=_REBUILD) from None
    try:
        return json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        problem = f"manifest.json is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
    except RecursionError:
        problem = "manifest.json is nested too deeply to be a kbrank manifest"
    except ValueError as exc:
        problem = f"manifest.json holds a value JSON does not allow ({exc})"
    raise IndexFormatError(problem, path=where, fix=_REBUILD)


def read_raw(directory: Path) -> bytes | None:
    """The bytes of ``directory/manifest.json``, ``None`` if there is none; refuses anything but a regular file
    in the directory of at most `MAX_MANIFEST_BYTES`."""
    path = directory / MANIFEST
    where = str(path)
    if not os.path.lexists(path):
        return None
    if inside(directory, MANIFEST) is None:
        kind = "a directory" if path.is_dir() else "not a regular file in the index directory"
        raise IndexFormatError(f"manifest.json is {kind}", path=where,
                               fix="point at a directory written by kbrank, or rebuild the index")
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise IndexFormatError(f"cannot read manifest.json ({exc.strerror or exc})", path=where,
                               fix="check the permissions of the index directory") from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise IndexFormatError(f"manifest.json is larger than {MAX_MANIFEST_BYTES >> 20} MiB: not a kbrank manifest",
                               path=where, fix=_REBUILD)
    return raw


def read_manifest(directory: Path) -> Manifest:
    """The validated manifest of an index directory (see the module docstring for what is refused)."""
    where = str(directory / MANIFEST)
    raw = read_raw(directory)
    if raw is None:
        raise IndexFormatError("no manifest.json: not a kbrank index (or an interrupted first save)",
                               path=str(directory), fix="build the index again")
    data = parse_json(raw, where)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise IndexFormatError("manifest.json is not a kbrank index manifest", path=where,
                               fix="point at a directory written by kbrank")
    version = data.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        writer = data.get("kbrank_version")
        raise IndexFormatError(
            f"unknown index format version {version!r} (this kbrank {__version__} reads version {FORMAT_VERSION})",
            path=where,
            fix="rebuild the index with this kbrank version, or install the kbrank version that wrote it "
            f"({writer if isinstance(writer, str) else 'unknown'})",
        )
    return check_section(Manifest, data, where=where, section="")


def listed_files(raw: bytes | None) -> dict[str, int] | None:
    """For a save: ``{file name: recorded size}`` of a kbrank manifest's entries with safe names (read leniently,
    so a damaged kbrank manifest still says which files kbrank wrote), or ``None`` if ``raw`` is not a kbrank
    manifest at all (a foreign ``manifest.json``)."""
    if raw is None:
        return {}
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    files = data.get("files")
    out: dict[str, int] = {}
    for entry in files.values() if isinstance(files, dict) else ():
        if isinstance(entry, dict) and is_safe_name(entry.get("path")):
            size = entry.get("bytes")
            out[entry["path"]] = size if isinstance(size, int) and not isinstance(size, bool) else -1
    return out
