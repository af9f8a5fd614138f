"""Mutations of a saved index directory, for the index-file fuzzer (`test_index_fuzz.py`, `_fuzz_worker.py`).

Each mutation is a function ``(directory, rng) -> description``. "Raw" mutations change bytes and leave the
manifest alone (the checksum must catch them); "re-signed" ones rewrite an array or file and then update its
size and sha256 in the manifest, as a crafted index would, so that only kbrank's validation stands between
the bytes and the compiled kernels or faiss.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Callable

import numpy as np

Mutation = Callable[[Path, random.Random], str]


def manifest(directory: Path) -> dict:
    return json.loads((directory / "manifest.json").read_text(encoding="utf-8"))


def write_manifest(directory: Path, data: dict) -> None:
    (directory / "manifest.json").write_text(json.dumps(data), encoding="utf-8")


def resign(directory: Path, name: str) -> None:
    """Update the manifest's size and sha256 of ``name`` to the file's current content."""
    data = manifest(directory)
    entry = data["files"][name]
    raw = (directory / entry["path"]).read_bytes()
    entry["bytes"], entry["sha256"] = len(raw), hashlib.sha256(raw).hexdigest()
    write_manifest(directory, data)


def _pick(directory: Path, rng: random.Random, suffix: str | None = None) -> tuple[str, Path]:
    files = manifest(directory)["files"]
    names = sorted(n for n, e in files.items() if suffix is None or e["path"].endswith(suffix))
    name = rng.choice(names)
    return name, directory / files[name]["path"]


# -- raw (not re-signed) -----------------------------------------------------------------------------------------
def flip_bytes(directory: Path, rng: random.Random) -> str:
    name, path = _pick(directory, rng)
    raw = bytearray(path.read_bytes())
    if not raw:
        return f"{name}: empty, unchanged"
    for _ in range(rng.choice((1, 3, 16))):
        raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(raw))
    return f"flip bytes of {name}"


def truncate(directory: Path, rng: random.Random) -> str:
    name, path = _pick(directory, rng)
    raw = path.read_bytes()
    path.write_bytes(raw[: rng.randrange(len(raw) + 1)])
    return f"truncate {name}"


# -- re-signed ---------------------------------------------------------------------------------------------------
def _new_array(array: np.ndarray, rng: random.Random) -> tuple[np.ndarray, str]:
    a = np.array(array)
    choice = rng.randrange(13)
    n = a.size
    if choice == 0 and n:
        flat = a.reshape(-1).copy()
        if flat.dtype.kind in "iu":
            flat[rng.randrange(n)] = rng.choice((-1, 10**6, np.iinfo(flat.dtype).max, np.iinfo(flat.dtype).min))
        elif flat.dtype.kind == "f":
            flat[rng.randrange(n)] = rng.choice((np.nan, np.inf, -np.inf, 1e308))
        else:
            flat[rng.randrange(n)] = b"\xff" * flat.dtype.itemsize
        return flat.reshape(a.shape), "one value out of range"
    if choice == 1 and n and a.dtype.kind in "iu":
        info = np.iinfo(a.dtype)
        values = np.random.default_rng(rng.randrange(2**32)).integers(max(info.min, -2**40), min(info.max, 2**40),
                                                                      size=a.shape)
        return values.astype(a.dtype), "random values"
    if choice == 2:
        target = rng.choice((np.int32, np.int64, np.float32, np.float64, np.uint8, np.int16))
        return a.astype(target), f"dtype {np.dtype(target)}"
    if choice == 3 and n:
        return a.reshape(-1)[:-1].copy(), "one element short"
    if choice == 4:
        return np.concatenate([a.reshape(-1), a.reshape(-1)[:1]]) if n else np.zeros(3, a.dtype), "one element more"
    if choice == 5 and n:
        return a.reshape(-1, 1), "2-d"
    if choice == 6:
        return a.astype(a.dtype.newbyteorder(">")), "big-endian"
    if choice == 7:
        return a.reshape(-1)[:0].copy(), "empty"
    if choice == 8 and n:
        return np.asfortranarray(np.repeat(a.reshape(-1, 1), 2, axis=1)), "fortran 2-d"
    if choice == 9 and n and a.dtype.kind in "iu":
        return (-a - 1).astype(a.dtype), "negated"
    if choice == 10 and n:
        return np.random.default_rng(rng.randrange(2**32)).permutation(a.reshape(-1)).reshape(a.shape), "shuffled"
    if choice == 11 and n and a.dtype.kind in "iu":
        return (a * 2 + 1).astype(a.dtype), "scaled"
    if choice == 12:
        return np.array(["x"] * max(n, 1)), "unicode strings"
    return a[::-1].copy() if n else np.zeros(1, a.dtype), "reversed"


def rewrite_array(directory: Path, rng: random.Random) -> str:
    name, path = _pick(directory, rng, ".npy")
    array = np.load(path, allow_pickle=False)
    new, how = _new_array(array, rng)
    with open(path, "wb") as handle:
        np.save(handle, new, allow_pickle=False)
    resign(directory, name)
    return f"re-signed {name}: {how}"


def crafted_header(directory: Path, rng: random.Random) -> str:
    """An .npy header that lies about the shape or dtype (the data bytes unchanged)."""
    name, path = _pick(directory, rng, ".npy")
    raw = path.read_bytes()
    header_len = int.from_bytes(raw[8:10], "little")
    header = raw[10:10 + header_len].decode("latin1")
    lies = ["{'descr': '<i8', 'fortran_order': False, 'shape': (1000000000000,), }",
            "{'descr': '|O', 'fortran_order': False, 'shape': (3,), }",
            "{'descr': '<f8', 'fortran_order': True, 'shape': (2, -1), }",
            "{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (1,), }",
            "{'descr': '<i8', 'fortran_order': False, 'shape': (), }",
            "not a dict at all", "{'descr': '<i8'}"]
    lie = rng.choice(lies).ljust(len(header) - 1) + "\n"
    path.write_bytes(raw[:8] + len(lie).to_bytes(2, "little") + lie.encode("latin1") + raw[10 + header_len:])
    resign(directory, name)
    return f"re-signed {name}: header {lie.strip()[:40]!r}"


def rewrite_jsonl(directory: Path, rng: random.Random) -> str:
    name, path = _pick(directory, rng, ".jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    i = rng.randrange(len(lines))
    replacement = rng.choice(['{"id": 5}', "[]", "null", '"x"', '{"id": "a", "title": 3}', "{", "1e999",
                              '{"id": "' + "d" * 3 + '", "versions": {"p": "not a spec"}}', '"' + "[" * 5 + '"',
                              lines[0], ""])
    action = rng.randrange(3)
    if action == 0:
        lines[i] = replacement
    elif action == 1:
        del lines[i]
    else:
        lines.insert(i, replacement)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    resign(directory, name)
    return f"re-signed {name}: line {i + 1} edited ({action})"


def rewrite_blob(directory: Path, rng: random.Random) -> str:
    """Flip bytes in (or truncate) a faiss or model file, then re-sign it."""
    files = manifest(directory)["files"]
    names = sorted(n for n, e in files.items() if e["path"].endswith((".faiss", ".json")))
    if not names:
        return rewrite_array(directory, rng)
    name = rng.choice(names)
    path = directory / files[name]["path"]
    raw = bytearray(path.read_bytes())
    if rng.random() < 0.25:
        raw = raw[: rng.randrange(len(raw))]
    else:
        for _ in range(rng.choice((1, 2, 8))):
            position = rng.randrange(len(raw))
            raw[position] = rng.choice((0, 0xFF, raw[position] ^ (1 << rng.randrange(8)), rng.randrange(256)))
    path.write_bytes(bytes(raw))
    resign(directory, name)
    return f"re-signed {name}: bytes changed"


def faiss_structure(directory: Path, rng: random.Random) -> str:
    """Rewrite the faiss file with a structurally wrong index (other type, size or graph), re-signed."""
    import faiss

    files = manifest(directory)["files"]
    names = [n for n, e in files.items() if e["path"].endswith(".faiss")]
    if not names:
        return rewrite_array(directory, rng)
    name = names[0]
    path = directory / files[name]["path"]
    raw = faiss.read_index(str(path))
    index = faiss.downcast_index(raw)
    d, n = index.d, index.ntotal
    vectors = np.random.default_rng(rng.randrange(2**32)).standard_normal((n, d)).astype(np.float32)
    choice = rng.randrange(6)
    if choice == 0:
        new = faiss.IndexFlatL2(d)
        new.add(vectors)
    elif choice == 1:
        new = faiss.IndexFlatIP(d)
        new.add(vectors[: max(n - 1, 0)])
    elif choice == 2:
        new = faiss.IndexFlatIP(d + 1)
        new.add(np.ones((n, d + 1), np.float32))
    elif choice == 3:
        new = faiss.IndexHNSWFlat(d, 4, faiss.METRIC_INNER_PRODUCT)
        new.add(vectors)
        links = faiss.vector_to_array(new.hnsw.neighbors)
        links[rng.randrange(links.size)] = rng.choice((n + 5, -7, 2**30))
        faiss.copy_array_to_vector(links, new.hnsw.neighbors)
    elif choice == 4:
        new = faiss.IndexFlatIP(d)
        new.add(np.full((n, d), np.nan, np.float32))
    else:
        new = faiss.IndexHNSWFlat(d, 4, faiss.METRIC_INNER_PRODUCT)
        new.add(vectors)
        new.hnsw.entry_point = n + 3
    faiss.write_index(new, str(path))
    resign(directory, name)
    return f"re-signed {name}: faiss structure {choice}"


def manifest_number(directory: Path, rng: random.Random) -> str:
    """Change one number (or flag) somewhere in the manifest's components."""
    data = manifest(directory)
    spots = []

    def walk(node: object, path: tuple) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, path + (key,))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, path + (i,))
        elif isinstance(node, (int, float)) and not isinstance(node, bool) or isinstance(node, bool):
            spots.append(path)

    walk(data["components"], ("components",))
    # the query limits are valid at any value >= 1; a small one refuses this fuzzer's queries with exit code 2
    # (a clear error about the query, tested with the query limits), so they are not mutated here
    spots = [spot for spot in spots if not str(spot[-1]).startswith("max_query_")]
    path = rng.choice(spots)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = rng.choice((-5, 0, 1, 10**12, 2.5, True, None, "3", -1.0))
    write_manifest(directory, data)
    return f"manifest {'.'.join(map(str, path))} = {node[path[-1]]!r}"


RAW: tuple[Mutation, ...] = (flip_bytes, truncate)
RESIGNED: tuple[Mutation, ...] = (rewrite_array, rewrite_array, rewrite_array, crafted_header, rewrite_jsonl,
                                  rewrite_blob, faiss_structure, manifest_number)
ALL: tuple[Mutation, ...] = RAW + RESIGNED


def mutate(directory: Path, seed: int) -> str:
    """Apply one to three mutations chosen by ``seed``; returns what was done."""
    rng = random.Random(seed)
    done = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        mutation = rng.choice(ALL)
        try:
            done.append(mutation(directory, rng))
        except Exception as exc:  # noqa: BLE001 - an earlier mutation broke the file this one edits
            done.append(f"{mutation.__name__} skipped ({type(exc).__name__})")
    return "; ".join(done)
