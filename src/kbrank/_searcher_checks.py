"""What `kbrank.searcher.Searcher` checks at the door: the mode, the profile view and the query."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import InputError, ParameterError, suggestion

if TYPE_CHECKING:
    from .analysis import Analyzer

__all__ = ["MAX_QUERY_CHARS", "MAX_QUERY_TERMS", "MODES", "SEARCH_PURPOSES", "check_mode", "check_profile",
           "check_query"]

MODES = ("bm25", "dense", "hybrid")
#: Queries longer than this are refused (a pasted log of a few pages still fits).
MAX_QUERY_CHARS = 8192
#: Queries with more distinct analyzed terms than this are refused (each term is a posting list to sum).
MAX_QUERY_TERMS = 512
#: The purposes of the views `Searcher.search` personalizes with (``chat`` views come from the chat retriever).
SEARCH_PURPOSES = ("personalization", "chat")


def check_mode(mode: object) -> str:
    if mode not in MODES:
        raise ParameterError("mode", f"one of {MODES}", mode, hint=suggestion(mode, MODES))
    return str(mode)


def check_profile(profile: Any, purposes: tuple[str, ...] = SEARCH_PURPOSES) -> None:
    """Refuse anything but a `ProfileView` read for one of ``purposes`` (or ``None``), saying how to get one."""
    from .privacy import ProfileView

    if profile is None:
        return
    if not isinstance(profile, ProfileView):
        raise TypeError(
            f"profile must be a kbrank.ProfileView or None, not {type(profile).__name__}. Get a view through the "
            f"privacy gate, gateway.read(customer_id, 'personalization', degrade=True), or in a notebook build one "
            f"with ProfileView.of('personalization', owned=..., region=...)")
    if profile.purpose not in purposes:
        raise ParameterError("profile", f"a view read for {' or '.join(map(repr, purposes))}",
                             f"a view read for {profile.purpose!r}",
                             hint="read the profile again for that purpose: each purpose hands out only what it needs, "
                                  "and a view for another purpose must not rank search results")


def check_query(query: object, analyzer: Analyzer, *, max_chars: int, max_terms: int) -> str:
    """The query, checked: a string within the limits (an empty one is allowed and finds nothing). ``analyzer``
    counts the distinct terms of a query long enough to hold too many."""
    if not isinstance(query, str):
        raise ParameterError("query", "a string", type(query).__name__)
    if len(query) > max_chars:
        raise InputError(f"the query is longer than {max_chars} characters", field="query",
                         value=f"{len(query)} characters",
                         fix="shorten it, or raise the limit with Searcher(max_query_chars=...)")
    if len(query) > max_terms:  # only then can it hold too many terms
        terms = len(set(analyzer(query)))
        if terms > max_terms:
            raise InputError(f"the query has more than {max_terms} distinct terms", field="query",
                             value=f"{terms} terms", fix="shorten it, or raise the limit with Searcher(max_query_terms=...)")
    return query
