"""Where a `HelpCentreSite` comes from: the bundled demo help centre, or a saved index (with optional profiles
and known issues). The profiles go into an in-memory gateway keyed by ``$KBRANK_KEY`` (a random key for this
run when it is unset), as the CLI's ``search --profile`` does."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from .site import HelpCentreSite

__all__ = ["demo_site", "index_site"]


def _key() -> bytes | str:
    return os.environ.get("KBRANK_KEY") or secrets.token_bytes(32)


def demo_site(*, mode: str = "hybrid") -> HelpCentreSite:
    """The demo help centre (Lumio): generated articles and customers, hybrid search with all-MiniLM-L6-v2
    (offline, embeddings cached in `default_embedding_cache_dir`), chat and the demo's known issues."""
    from ..chat import ChatRetriever
    from ..datasets import chat_catalogue, load_helpcentre
    from ..personalize import Personalizer
    from ..privacy import ProfileGateway
    from ..searcher import Searcher

    hc = load_helpcentre()
    dense = None
    if mode != "bm25":
        from ..index.dense import DenseIndex
        from ..index.embedding_cache import default_embedding_cache_dir

        dense = DenseIndex(cache_dir=default_embedding_cache_dir())
    aliases = {product: [entry["short_name"], entry["name"]] for product, entry in hc.catalog.items()}
    searcher = Searcher(mode=mode, dense=dense,
                        personalizer=Personalizer(today=hc.as_of, product_aliases=aliases)).build(hc.corpus)
    gateway = ProfileGateway.from_helpcentre(hc, key=_key(), requester="kbrank.web")
    chat = ChatRetriever(searcher, catalogue=chat_catalogue(hc))
    chat.register_erasure(gateway)
    return HelpCentreSite(searcher=searcher, gateway=gateway, customers=[c["customer_id"] for c in hc.customers],
                          product_names={p: entry["name"] for p, entry in hc.catalog.items()}, chat=chat,
                          known_issues=hc.known_issues, articles=hc.corpus, title="Lumio help centre (demo)")


def index_site(index: str | os.PathLike[str], *, profiles: str | os.PathLike[str] | None = None,
               issues: str | os.PathLike[str] | None = None) -> HelpCentreSite:
    """A saved index directory, with the customers of ``profiles`` (JSON lines, validated by the gateway)
    and the known issues of ``issues`` (JSONL or YAML)."""
    from .._io import iter_jsonl
    from ..chat import ChatRetriever
    from ..errors import ProfileError
    from ..privacy import ProfileGateway
    from ..proactive import read_known_issues
    from ..searcher import Searcher

    searcher = Searcher.load(index)
    gateway = ProfileGateway.in_memory(key=_key(), requester="kbrank.web")
    ids: list[str] = []
    try:
        if profiles is not None:
            records: list[Any] = [record for _, record in iter_jsonl(profiles, error=ProfileError)]
            gateway.load_records(records, source=str(profiles), requester="kbrank.web")
            ids = [str(r["customer_id"]) for r in records]  # the gateway validated every record
        known = read_known_issues(issues) if issues is not None else ()
        chat = ChatRetriever(searcher)
        chat.register_erasure(gateway)
    except BaseException:
        gateway.close()
        raise
    return HelpCentreSite(searcher=searcher, gateway=gateway, customers=ids, chat=chat, known_issues=known,
                          articles=searcher.corpus_, title=f"Help centre ({Path(index).name})")
