"""A seeded generator of realistic install bases, millions of customers at a time, as numpy columns.

It draws from the demo help centre's world (`kbrank.datasets.helpcentre`): the same products with their
popularity, regional availability and firmware releases (recent releases more common, weight growing with
the square of the position), the same regions, locales, segments, phone platforms, owned-product counts per
segment, product statuses and consent rates. Everything is vectorised (no Python loop per customer), so
10 million customers take seconds, and the same ``seed`` gives the same base on every run.

`InstallBase.columns` hands the base over in the shape the privacy gateway's columnar scan returns
(`CustomerColumns`, read for ``proactive-contact``), for the embedded selection; `InstallBase.write_parquet`
writes ``customers.parquet``, ``owned.parquet`` and ``usage.parquet`` in the table shape that
`kbrank.proactive.spark` reads. Usage is one row per (customer, product, feature): the summed count and the
last time it was seen. Pseudonyms are 16 hex characters derived from the customer number (synthetic data:
no key is involved).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from .._params import check_int
from ..errors import MissingDependencyError
from ..privacy import CHANNELS, CustomerColumns, UsageQuery
from ._helpcentre_catalog import AS_OF, LOCALES, OWNED_COUNTS, PRODUCTS, REGION_WEIGHTS, SEGMENTS

__all__ = ["InstallBase", "generate_install_base", "iter_profile_records"]

_CHUNK = 1 << 20
_STATUSES = ("active", "returned", "retired")
_PLATFORMS = ("android", "ios", "macos", "web", "windows")
_AS_OF = dt.datetime.combine(AS_OF, dt.time(), tzinfo=dt.timezone.utc)


def _probabilities(weights: Mapping[str, float]) -> tuple[tuple[str, ...], np.ndarray]:
    names = tuple(weights)
    values = np.asarray([weights[n] for n in names], np.float64)
    return names, values / values.sum()


def _hex_keys(numbers: np.ndarray, seed: int) -> np.ndarray:
    """16 hex characters per number (a splitmix64 mix of number and seed), as an ``S16`` array."""
    with np.errstate(over="ignore"):
        z = numbers.astype(np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15) % 2**64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    nibbles = (z[:, None] >> (np.arange(60, -4, -4, dtype=np.uint64))[None, :]) & np.uint64(15)
    digits = np.frombuffer(b"0123456789abcdef", np.uint8)[nibbles.astype(np.intp)]
    return np.ascontiguousarray(digits).view("S16").ravel()


@dataclass(frozen=True, eq=False)
class InstallBase:
    """A generated base: customer columns (length ``n_customers``), owned-item columns and usage rows.
    Codes index the vocabularies; -1 is unknown. Consents are raw (``contact`` is the purpose consent)."""

    seed: int
    products: tuple[str, ...]
    versions: tuple[str, ...]
    platforms: tuple[str, ...]
    regions: tuple[str, ...]
    locales: tuple[str, ...]
    segments: tuple[str, ...]
    features: tuple[str, ...]
    customer: np.ndarray
    region: np.ndarray
    locale: np.ndarray
    segment: np.ndarray
    contact: np.ndarray
    usage_consent: np.ndarray
    channels: np.ndarray  # uint8 bit mask over CHANNELS of consented channels
    preferred: np.ndarray  # int8 index into CHANNELS, -1 none (a stated preference, consented or not)
    owner: np.ndarray
    position: np.ndarray
    product: np.ndarray
    version: np.ndarray
    platform: np.ndarray
    status: np.ndarray
    usage_owner: np.ndarray
    usage_product: np.ndarray
    usage_feature: np.ndarray
    usage_count: np.ndarray
    usage_seen: np.ndarray  # int64 seconds since the epoch (UTC)

    @property
    def n_customers(self) -> int:
        return int(self.customer.shape[0])

    def __repr__(self) -> str:
        return (f"InstallBase(seed={self.seed}, {self.n_customers} customers, {self.owner.shape[0]} owned items, "
                f"{self.usage_owner.shape[0]} usage rows)")

    @property
    def nbytes(self) -> int:
        return sum(v.nbytes for v in vars(self).values() if isinstance(v, np.ndarray))

    def usage_sums(self, query: UsageQuery | None) -> np.ndarray:
        """The summed usage per customer for ``query`` (zeros without one)."""
        if query is None:
            return np.zeros(self.n_customers, np.int64)
        keep = np.isin(self.usage_feature, [self.features.index(f) for f in query.features if f in self.features])
        if query.products:
            keep &= np.isin(self.usage_product, [self.products.index(p) for p in query.products if p in self.products])
        if query.since is not None:
            keep &= self.usage_seen >= int(query.since.timestamp())
        return np.bincount(self.usage_owner[keep], weights=self.usage_count[keep],
                           minlength=self.n_customers).astype(np.int64)

    def columns(self, *, usage: UsageQuery | None = None, products: tuple[str, ...] | None = None) -> CustomerColumns:
        """The base as the gateway's columnar scan would hand it out for ``proactive-contact`` (unconsented
        customers anonymous, as with ``include_unconsented=True``); ``products`` keeps only their owners' items."""
        granted = self.contact & (self.channels > 0)
        customer = np.where(granted, self.customer, b"")
        preferred_ok = (self.preferred >= 0) & ((self.channels >> np.maximum(self.preferred, 0).astype(np.uint8)) & 1 > 0)
        owner = self.owner
        rows: slice | np.ndarray = slice(None)
        if products is not None:
            rows = np.isin(self.product, [self.products.index(p) for p in products if p in self.products])
            owner = self.owner[rows]
        return CustomerColumns(
            purpose="proactive-contact", products=self.products, versions=self.versions, platforms=self.platforms,
            regions=self.regions, locales=self.locales, segments=self.segments, customer=customer,
            region=self.region, locale=self.locale, segment=self.segment, consented=granted,
            channels=np.where(granted, self.channels, 0).astype(np.uint8),
            preferred=np.where(granted & preferred_ok, self.preferred, -1).astype(np.int8),
            usage=np.where(self.usage_consent, self.usage_sums(usage), -1), owner=owner, position=self.position[rows],
            product=self.product[rows], version=self.version[rows], platform=self.platform[rows],
            status=self.status[rows])

    def write_parquet(self, folder: str | Path) -> Path:
        """Write ``customers``, ``owned`` and ``usage`` Parquet files (dictionary-encoded strings) into ``folder``."""
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise MissingDependencyError("pyarrow", "spark") from None
        root = Path(folder)
        root.mkdir(parents=True, exist_ok=True)

        def names(vocab: tuple[str, ...], codes: np.ndarray) -> Any:
            mask = codes < 0
            return pa.DictionaryArray.from_arrays(pa.array(np.maximum(codes, 0).astype(np.int32), mask=mask),
                                                  pa.array(list(vocab) or [""], pa.string()))

        keys = pa.array(self.customer.astype(object).astype(str), pa.string()) if self.n_customers else pa.array([], pa.string())
        bits = {f"channel_{c}": pa.array((self.channels >> i & 1).astype(bool)) for i, c in enumerate(CHANNELS)}
        preferred = pa.array(np.where(self.preferred >= 0, np.asarray(CHANNELS, object)[np.maximum(self.preferred, 0)],
                                      "none").astype(str))
        pq.write_table(pa.table({"customer": keys, "region": names(self.regions, self.region),
                                 "locale": names(self.locales, self.locale),
                                 "segment": names(self.segments, self.segment), "consented": pa.array(self.contact),
                                 **bits, "preferred_channel": preferred,
                                 "usage_consent": pa.array(self.usage_consent)}), root / "customers.parquet")
        pq.write_table(pa.table({"customer": keys.take(pa.array(self.owner)), "position": pa.array(self.position),
                                 "product": names(self.products, self.product),
                                 "version": names(self.versions, self.version),
                                 "platform": names(self.platforms, self.platform),
                                 "status": names(_STATUSES, self.status.astype(np.int32))}), root / "owned.parquet")
        seen = pa.array(self.usage_seen * 1_000_000, pa.timestamp("us", tz="UTC"))
        pq.write_table(pa.table({"customer": keys.take(pa.array(self.usage_owner)),
                                 "product": names(self.products, self.usage_product),
                                 "feature": names(self.features, self.usage_feature),
                                 "timestamp": seen, "count": pa.array(self.usage_count)}), root / "usage.parquet")
        return root


@dataclass(frozen=True)
class _Vocabularies:
    """The world's vocabularies and the sampling tables drawn from them (codes index the tuples)."""

    products: tuple[str, ...]
    versions: tuple[str, ...]
    version_code: np.ndarray  # (product, release position) -> version code, -1 past the last release
    version_p: np.ndarray  # (product, release position) -> probability
    features: tuple[str, ...]
    feature_code: np.ndarray  # (product, slot) -> feature code, -1 unused
    regions: tuple[str, ...]
    region_p: np.ndarray
    locales: tuple[str, ...]
    segments: tuple[str, ...]  # sorted: the codes stored in the base
    segment_names: tuple[str, ...]  # in the order of segment_p
    segment_p: np.ndarray
    hardware: np.ndarray  # product codes of current hardware
    log_weight: np.ndarray  # per hardware product
    available: np.ndarray  # (region, hardware product) -> sold there


def _vocabularies() -> _Vocabularies:
    products = tuple(sorted(PRODUCTS))
    versions = tuple(sorted({v for p in PRODUCTS.values() for v in p["versions"]},
                            key=lambda v: tuple(int(x) for x in v.split("."))))
    longest = max(len(p["versions"]) for p in PRODUCTS.values())
    version_code = np.full((len(products), longest), -1, np.int16)
    version_p = np.zeros((len(products), longest))
    features = tuple(sorted({f for p in PRODUCTS.values() for f in p["features"]}))
    feature_code = np.full((len(products), 4), -1, np.int16)
    for i, pid in enumerate(products):
        releases = PRODUCTS[pid]["versions"]
        version_code[i, :len(releases)] = [versions.index(v) for v in releases]
        weights = np.arange(1, len(releases) + 1, dtype=np.float64) ** 2
        version_p[i, :len(releases)] = weights / weights.sum()
        feature_code[i, :len(PRODUCTS[pid]["features"])] = [features.index(f) for f in PRODUCTS[pid]["features"]]
    regions, region_p = _probabilities(REGION_WEIGHTS)
    locales = tuple(sorted({loc for table in LOCALES.values() for loc in table}))
    segments, segment_p = _probabilities(SEGMENTS)
    hardware = [i for i, pid in enumerate(products) if PRODUCTS[pid]["status"] == "current"
                and PRODUCTS[pid]["line"] != "app"]
    log_weight = np.log(np.asarray([PRODUCTS[products[h]]["weight"] for h in hardware], np.float64))
    available = np.asarray([[r in PRODUCTS[products[h]]["regions"] for h in hardware] for r in regions])
    return _Vocabularies(products=products, versions=versions, version_code=version_code, version_p=version_p,
                         features=features, feature_code=feature_code, regions=regions, region_p=region_p, locales=locales,
                         segments=tuple(sorted(segments)), segment_names=segments, segment_p=segment_p,
                         hardware=np.asarray(hardware), log_weight=log_weight, available=available)


def _chunk(rng: np.random.Generator, v: _Vocabularies, offset: int, size: int) -> dict[str, np.ndarray]:
    """One chunk of customers (numbers ``offset`` to ``offset + size - 1``) and their rows."""
    region = rng.choice(len(v.regions), p=v.region_p, size=size).astype(np.int16)
    locale = np.empty(size, np.int16)
    for r, name in enumerate(v.regions):
        names, p = _probabilities(LOCALES[name])
        mask = region == r
        locale[mask] = np.asarray([v.locales.index(n) for n in names])[rng.choice(len(names), p=p, size=mask.sum())]
    drawn = rng.choice(len(v.segment_names), p=v.segment_p, size=size)
    segment = np.asarray([v.segments.index(s) for s in v.segment_names], np.int16)[drawn]
    phone = rng.choice(3, p=[0.48, 0.42, 0.10], size=size)  # ios, android, none
    phone_code = np.asarray([_PLATFORMS.index("ios"), _PLATFORMS.index("android"), -1], np.int16)[phone]
    count = np.empty(size, np.int64)
    for s, name in enumerate(v.segment_names):
        counts, weights = OWNED_COUNTS[name]
        mask = drawn == s
        count[mask] = rng.choice(np.asarray(counts), p=np.asarray(weights) / sum(weights), size=mask.sum())
    keys = v.log_weight[None, :] + rng.gumbel(size=(size, v.hardware.size))  # Gumbel top-k: weighted,
    keys[~v.available[region]] = -np.inf                                          # without replacement
    order = np.argsort(-keys, axis=1)
    take = (np.arange(order.shape[1])[None, :] < count[:, None]) & np.isfinite(np.take_along_axis(keys, order, 1))
    owner, position = np.nonzero(take)
    product = v.hardware[order[owner, position]].astype(np.int16)
    platform = phone_code[owner]
    status = rng.choice(3, p=[0.86, 0.07, 0.07], size=owner.size).astype(np.int8)
    no_active = np.bincount(owner[status == 0], minlength=size) == 0
    status[(position == 0) & no_active[owner]] = 0
    routers = np.flatnonzero(np.isin(product, [v.products.index(p) for p in PRODUCTS if p.startswith("router-")]))
    has_router = np.zeros(size, bool)
    has_router[owner[routers]] = True
    old = np.flatnonzero(has_router & (rng.random(size) < 0.25))
    has_app = rng.random(size) < 0.85
    apps = np.flatnonzero(has_app)
    app_platform = np.where(phone_code[apps] >= 0, phone_code[apps], np.asarray(
        [_PLATFORMS.index(p) for p in ("windows", "macos", "web")], np.int16)[rng.integers(0, 3, apps.size)])
    owner = np.concatenate([owner, old, apps])
    position = np.concatenate([position, count[old], count[apps] + 1]).astype(np.int16)
    product = np.concatenate([product, np.full(old.size, v.products.index("router-x100"), np.int16),
                              np.full(apps.size, v.products.index("app-home"), np.int16)])
    platform = np.concatenate([platform, phone_code[old], app_platform]).astype(np.int16)
    status = np.concatenate([status, np.full(old.size, 2, np.int8),
                             np.where(rng.random(apps.size) < 0.95, 0, 2).astype(np.int8)])
    sort = np.lexsort((position, owner))
    owner, position, product, platform, status = owner[sort], position[sort], product[sort], platform[sort], status[sort]
    choice = np.minimum((rng.random(owner.size)[:, None] > np.cumsum(v.version_p[product], axis=1)).sum(1),
                        v.version_p.shape[1] - 1)
    version = v.version_code[product, choice]
    active = np.flatnonzero((status == 0) & (rng.random(owner.size) < 0.6))
    n_features = (v.feature_code[product[active]] >= 0).sum(axis=1)
    feature = v.feature_code[product[active], (rng.random(active.size) * n_features).astype(np.int64)]
    seen = int(_AS_OF.timestamp()) - rng.integers(3600, 120 * 86400, active.size)
    sms = (rng.random(size) < 0.75) & (rng.random(size) < 0.5)
    push = (phone_code >= 0) & has_app & (rng.random(size) < 0.8)
    channels = ((rng.random(size) < 0.92).astype(np.uint8) | (sms.astype(np.uint8) << 1)
                | (push.astype(np.uint8) << 2))
    bits = (channels[:, None] >> np.arange(3, dtype=np.uint8)[None, :]) & 1
    preferred = np.argmax(np.where(bits > 0, rng.random((size, 3)), -1.0), axis=1).astype(np.int8)
    preferred[(channels == 0) | (rng.random(size) >= 0.9)] = -1
    return dict(region=region, locale=locale,
                segment=segment, contact=rng.random(size) < 0.6, usage_consent=rng.random(size) < 0.78,
                channels=channels, preferred=preferred, owner=(owner + offset).astype(np.int32), position=position,
                product=product, version=version, platform=platform, status=status,
                usage_owner=(owner[active] + offset).astype(np.int32), usage_product=product[active],
                usage_feature=feature, usage_count=rng.integers(1, 61, active.size).astype(np.int32),
                usage_seen=seen.astype(np.int64))


def generate_install_base(n_customers: int, *, seed: int = 0) -> InstallBase:
    """``n_customers`` customers drawn from the help centre's world; see the module docstring.

    Customers are drawn in chunks of 2**20, each from its own stream (``seed``, chunk number), so memory stays
    bounded and a larger base starts with the customers of a smaller one.

    >>> base = generate_install_base(1000, seed=1)
    >>> base.n_customers, bool(base.owner.size > 1000)
    (1000, True)
    """
    check_int("n_customers", n_customers, 1)
    check_int("seed", seed, 0)
    v = _vocabularies()
    parts = [_chunk(np.random.default_rng([seed, n]), v, offset, min(_CHUNK, n_customers - offset))
             for n, offset in enumerate(range(0, n_customers, _CHUNK))]
    data = {name: np.concatenate([part.pop(name) for part in parts]) for name in list(parts[0])}  # frees as it goes
    data["customer"] = _hex_keys(np.arange(1, n_customers + 1), seed)
    return InstallBase(seed=seed, products=v.products, versions=v.versions, platforms=_PLATFORMS,
                       regions=v.regions, locales=v.locales, segments=v.segments, features=v.features,
                       **data)


def iter_profile_records(base: InstallBase, start: int = 0, stop: int | None = None) -> Iterator[dict[str, object]]:
    """Customers ``start`` to ``stop`` as profile records in the help centre's schema, for loading a profile
    store (`ProfileGateway.load_records`). One dict per customer: use it for ingest, not on a hot path."""
    stop = base.n_customers if stop is None else min(stop, base.n_customers)
    first_row, last_row = np.searchsorted(base.owner, [start, stop])
    first_use, last_use = np.searchsorted(base.usage_owner, [start, stop])
    names = {name: [*getattr(base, name), None] for name in ("products", "versions", "platforms", "regions",
                                                               "locales", "segments", "features")}
    owned: dict[int, list[dict[str, str | None]]] = {}
    for row in range(first_row, last_row):
        owned.setdefault(int(base.owner[row]), []).append({
            "product": names["products"][base.product[row]], "version": names["versions"][base.version[row]],
            "platform": names["platforms"][base.platform[row]], "status": _STATUSES[base.status[row]]})
    usage: dict[int, list[dict[str, str | int | None]]] = {}
    for row in range(first_use, last_use):
        usage.setdefault(int(base.usage_owner[row]), []).append({
            "product": names["products"][base.usage_product[row]], "feature": names["features"][base.usage_feature[row]],
            "count": int(base.usage_count[row]), "timestamp": dt.datetime.fromtimestamp(
                int(base.usage_seen[row]), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")})
    for i in range(start, stop):
        key = base.customer[i].decode("ascii")
        yield {"customer_id": key, "region": names["regions"][base.region[i]],
               "locale": names["locales"][base.locale[i]], "segment": names["segments"][base.segment[i]],
               "owned": owned.get(i, []), "usage": usage.get(i, []),
               "preferred_channel": "none" if base.preferred[i] < 0 else CHANNELS[base.preferred[i]],
               "addresses": {"email": f"{key}@example.com"},
               "consents": {"proactive-contact": bool(base.contact[i]), "usage": bool(base.usage_consent[i]),
                            "channels": {c: bool(base.channels[i] >> n & 1) for n, c in enumerate(CHANNELS)}}}
