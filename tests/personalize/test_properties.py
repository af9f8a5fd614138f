"""Properties of personalized search over small random corpora and profile views (hypothesis, BM25 only).

For the default policy and for a learned reranker with arbitrary coefficients: hidden articles never appear;
results are deterministic; no profile (or no consent) gives exactly the unpersonalized ranking; a query that
names a product lifts the "not owned" hide for it; and a personalized top 10 is full whenever 10 articles that
are not hidden match the query.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kbrank import Article, Corpus
from kbrank.personalize import Personalizer
from kbrank.personalize.learned import BASE_FEATURES, LearnedPersonalizer, LearnedReranker
from kbrank.privacy import OwnedProduct, ProfileView, UsageEvent
from kbrank.searcher import Searcher

TODAY = dt.date(2026, 11, 1)
WORDS = ("wifi", "drops", "router", "camera", "battery", "update", "setup", "password", "alerts", "night")
PRODUCTS = ("router-x200", "cam-c10", "thermo-t1", "app-home")
ALIASES = {"router-x200": "x200", "cam-c10": "c10", "thermo-t1": "t1"}  # the default aliases: id parts with digits
VERSIONS = ("1.0", "2.0", "2.3.1", "2.5", "3.0")
SPECS = (">=2.0,<2.4", "<2.0", ">=2.4", "==2.3.*", "~=1.0")
PLATFORMS = ("ios", "android", "web")
REGIONS = ("eu", "us", "uk")
LOCALES = ("en-GB", "de-DE")
SEGMENTS = ("consumer", "pro")
TAGS = ("parental-controls", "guest-net", "night-vision")
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _maybe(values: tuple[str, ...]) -> st.SearchStrategy[tuple[str, ...]]:
    return st.one_of(st.just(()), st.tuples(st.sampled_from(values)))


@st.composite
def articles(draw: st.DrawFn, number: int) -> Article:
    products = tuple(draw(st.lists(st.sampled_from(PRODUCTS), max_size=2, unique=True)))
    versions = {p: draw(st.sampled_from(SPECS)) for p in products if draw(st.booleans())}
    return Article(
        id=f"a{number:03d}", title=" ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=4))),
        body=" ".join(draw(st.lists(st.sampled_from(WORDS), max_size=6))), products=products, versions=versions,
        platforms=draw(_maybe(PLATFORMS)), regions=draw(_maybe(REGIONS)), locales=draw(_maybe(LOCALES)),
        audience=draw(_maybe(SEGMENTS)), tags=tuple(draw(st.lists(st.sampled_from(TAGS), max_size=2, unique=True))),
        kind=draw(st.sampled_from(("how-to", "known-issue", "faq"))),
        status=draw(st.sampled_from(("active", "active", "active", "deprecated", "archived"))),
        valid_until=draw(st.sampled_from((None, None, dt.date(2025, 1, 1), dt.date(2027, 1, 1)))),
        updated_at=draw(st.sampled_from((None, dt.date(2024, 5, 1), dt.date(2026, 10, 1)))))


@st.composite
def corpora(draw: st.DrawFn, min_size: int = 3, max_size: int = 40) -> Corpus:
    n = draw(st.integers(min_size, max_size))
    return Corpus([draw(articles(i)) for i in range(n)])


owned_items = st.builds(OwnedProduct, product=st.sampled_from(PRODUCTS), version=st.sampled_from(VERSIONS),
                        status=st.sampled_from(("active", "active", "returned", "retired")),
                        platform=st.sampled_from((None, *PLATFORMS)))
usage_events = st.builds(UsageEvent, product=st.sampled_from(PRODUCTS), feature=st.sampled_from(TAGS),
                         timestamp=st.sampled_from([dt.datetime(2026, m, 1, tzinfo=dt.timezone.utc) for m in (1, 9, 10)]))


@st.composite
def views(draw: st.DrawFn) -> ProfileView:
    fields = {"owned": tuple(draw(st.lists(owned_items, max_size=3, unique_by=lambda o: o.product))),
              "region": draw(st.sampled_from((None, *REGIONS))), "locale": draw(st.sampled_from((None, *LOCALES))),
              "segment": draw(st.sampled_from((None, *SEGMENTS)))}
    if draw(st.booleans()):  # usage only with its consent, so sometimes absent
        fields["usage"] = tuple(draw(st.lists(usage_events, max_size=3)))
    return ProfileView.of("personalization", **fields)


queries = st.builds(lambda words, alias: " ".join([*words, *alias]),
                    st.lists(st.sampled_from(WORDS), min_size=1, max_size=3),
                    st.lists(st.sampled_from(tuple(ALIASES.values())), max_size=1))
coefficients = st.lists(st.floats(-5, 5, allow_nan=False), min_size=len(BASE_FEATURES), max_size=len(BASE_FEATURES))


def _model(coef: list[float]) -> LearnedReranker:
    """A linear model with the given coefficients, as `LearnedReranker.load` would restore it."""
    model = LearnedReranker()
    model.feature_names_ = BASE_FEATURES
    model.coef_ = np.asarray(coef, dtype=np.float64)
    model.intercept_ = 0.0
    model.mean_ = np.zeros(len(BASE_FEATURES))
    model.scale_ = np.ones(len(BASE_FEATURES))
    model.popularity_, model.training_ = {}, {}
    return model


personalizers = st.one_of(st.just(None), coefficients)


def _searcher(corpus: Corpus, coef: list[float] | None) -> Searcher:
    personalizer = (Personalizer(today=TODAY) if coef is None
                    else LearnedPersonalizer(reranker=_model(coef), today=TODAY))
    return Searcher(mode="bm25", personalizer=personalizer).build(corpus)


def _rows(searcher: Searcher) -> dict[str, int]:
    return {a.id: i for i, a in enumerate(searcher.corpus_)}


@SETTINGS
@given(corpus=corpora(), view=views(), query=queries, coef=personalizers)
def test_no_hidden_article_appears_in_results(corpus: Corpus, view: ProfileView, query: str, coef) -> None:
    searcher = _searcher(corpus, coef)
    results = searcher.search(query, 10, profile=view, explain_hidden=True)
    plan = searcher.personalizer_.plan(view, query)
    rows = _rows(searcher)
    if results.personalized:
        assert not any(plan.hide[rows[a]] for a in results.ids)
    else:  # the only unpersonalized answer to a consenting view: everything that matched would be hidden
        assert results.notice and "would hide every match" in results.notice
    assert all(plan.hide[rows[h.article_id]] for h in results.hidden)


@SETTINGS
@given(corpus=corpora(), view=views(), query=queries, coef=personalizers)
def test_results_are_deterministic(corpus: Corpus, view: ProfileView, query: str, coef) -> None:
    first, second = _searcher(corpus, coef), _searcher(corpus, coef)
    for profile in (view, None):
        a = first.search(query, 10, profile=profile)
        b = first.search(query, 10, profile=profile)
        c = second.search(query, 10, profile=profile)
        assert a.ids == b.ids == c.ids
        assert [r.score for r in a] == [r.score for r in b] == [r.score for r in c]
        assert [[(x.rule, x.delta) for x in r.contributions] for r in a] == \
               [[(x.rule, x.delta) for x in r.contributions] for r in c]


@SETTINGS
@given(corpus=corpora(), query=queries, coef=personalizers, region=st.sampled_from(REGIONS))
def test_without_profile_or_consent_the_ranking_is_unpersonalized(corpus: Corpus, query: str, coef,
                                                                   region: str) -> None:
    searcher = _searcher(corpus, coef)
    plain = searcher.search(query, 10)
    for profile in (None, ProfileView.of("personalization", personalized=False, reason="no consent"),
                    ProfileView.of("personalization", region=region)):  # the last holds no owned products
        other = searcher.search(query, 10, profile=profile)
        assert other.ids == plain.ids and [r.score for r in other] == [r.score for r in plain]
        assert not other.personalized and all(r.contributions == () for r in other)


@SETTINGS
@given(corpus=corpora(), view=views(), words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=2),
       product=st.sampled_from(tuple(ALIASES)), coef=personalizers)
def test_a_query_naming_a_product_lifts_the_not_owned_hide(corpus: Corpus, view: ProfileView, words: list[str],
                                                           product: str, coef) -> None:
    assume(product not in {o.product for o in view.owned})
    searcher = _searcher(corpus, coef)
    query = " ".join([*words, ALIASES[product]])
    assume(product in searcher.personalizer_.named_products(query))
    plan = searcher.personalizer_.plan(view, query)
    facts = searcher.personalizer_.facts(view, plan.named)
    other_hides = facts["region_mismatch"] + facts["expired"] + facts["archived"]
    rows = _rows(searcher)
    for article in corpus:
        row = rows[article.id]
        if product in article.products and not other_hides[row]:
            assert not plan.hide[row], f"{article.id} is for {product}, which the query names"
    # and, asked without naming it, an article only for that product is hidden
    unnamed = searcher.personalizer_.plan(view, " ".join(words))
    for article in corpus:
        if article.products == (product,):
            assert unnamed.hide[rows[article.id]]


@SETTINGS
@given(corpus=corpora(min_size=10, max_size=40), view=views(), query=queries, coef=personalizers)
def test_the_top_10_is_full_when_10_applicable_articles_match(corpus: Corpus, view: ProfileView, query: str,
                                                              coef) -> None:
    searcher = _searcher(corpus, coef)
    plan = searcher.personalizer_.plan(view, query)
    analyzer = searcher.bm25_.analyzer_
    terms = set(analyzer(query))
    matching = [i for i, a in enumerate(corpus) if not plan.hide[i] and terms & set(analyzer(a.text))]
    results = searcher.search(query, 10, profile=view)
    if matching:
        assert results.personalized and len(results) == min(10, len(matching))
    else:
        assert not results.personalized


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 4), max_size=60), st.integers(0, 70))
def test_the_top_k_cut_is_a_stable_descending_sort_cut_at_k(values: list[int], k: int) -> None:
    from kbrank.personalize.personalizer import _top_order

    scores = np.asarray(values, dtype=np.float64) / 4  # few distinct values: ties at the k-th place are common
    scores[scores == 1.0] = np.nan  # a NaN score sorts after every number
    expected = sorted(range(len(values)), key=lambda i: (np.isnan(scores[i]), -scores[i], i))[:k]  # plain Python
    assert _top_order(scores, k).tolist() == expected
