"""`CustomerColumns`: a whole customer base, minimized for one purpose, as numpy arrays of codes.

`ProfileGateway.scan_columns` hands this out so that audience selection over millions of customers never
builds a Python object per customer. Strings become small integer codes into sorted vocabularies
(``products``, ``versions``, ``platforms``, ``regions``, ``locales``, ``segments``); ``-1`` means unknown.

Customer columns (one entry per customer, in pseudonym order): ``customer`` (the pseudonym as ASCII bytes,
``b""`` for a customer without consent), ``region``, ``locale``, ``segment``, ``consented`` (consent to the
purpose and, for contact, to at least one channel), ``channels`` (a bit mask over `CHANNELS`: bit ``i`` set
when channel ``CHANNELS[i]`` is consented), ``preferred`` (index into `CHANNELS` of the preferred channel if
it is consented, else ``-1``) and ``usage`` (the summed count of the usage events asked for, ``-1`` when the
customer did not consent to usage analysis or no usage was asked).

Owned-item columns (one entry per owned item, ordered by customer then by the item's position in the
profile): ``owner`` (the customer's row), ``position``, ``product``, ``version``, ``platform`` and ``status``
(index into `STATUSES`).

Customers without consent are left out, or, when the caller asks for them (``include_unconsented``), they
appear anonymously: no pseudonym and no channels (their usage sum only if they consented to usage analysis),
so that they can be *counted* and never contacted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Protocol, Sequence

import numpy as np

from .._frames import require_pandas
from ..errors import ParameterError
from .profiles import CHANNELS, STATUSES, channel_scope, to_utc
from .purposes import Purpose

__all__ = ["CustomerColumns", "StoredColumns", "UsageQuery", "build_columns", "columnar_scan", "encode", "scan_fields"]


@dataclass(frozen=True)
class UsageQuery:
    """Which usage to sum per customer: events of any of ``features`` (on any of ``products``, when given)
    at or after ``since`` (``None``: the whole retained history)."""

    features: tuple[str, ...]
    products: tuple[str, ...] = ()
    since: dt.datetime | None = None

    def __post_init__(self) -> None:
        for name in ("features", "products"):
            value = getattr(self, name)
            items = (value,) if isinstance(value, str) else tuple(value)
            if not all(isinstance(v, str) and v for v in items):
                raise ParameterError(name, "a tuple of non-empty names", value)
            object.__setattr__(self, name, items)
        if not self.features:
            raise ParameterError("features", "at least one feature name", self.features)
        if self.since is not None:
            object.__setattr__(self, "since", to_utc(self.since, name="since"))


@dataclass(frozen=True)
class StoredColumns:
    """What a store hands the gateway (inside the privacy package only): raw values, unmasked."""

    pseudonyms: Sequence[str]
    regions: Sequence[str | None]
    locales: Sequence[str | None]
    segments: Sequence[str | None]
    preferred: Sequence[str]
    consents: Mapping[str, np.ndarray]  # scope -> bool per customer
    owner: np.ndarray  # int32 customer row per owned item
    position: np.ndarray  # int32
    products: Sequence[str]
    versions: Sequence[str | None]
    platforms: Sequence[str | None]
    statuses: Sequence[str]
    usage: np.ndarray  # int64 summed count per customer (0 without events)


def _objects(values: Sequence[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def encode(values: Sequence[Any], dtype: Any = np.int16) -> tuple[tuple[str, ...], np.ndarray]:
    """(sorted vocabulary, codes) of a column of strings; ``None`` becomes -1. Runs at C speed (one
    ``dict.fromkeys`` and one ``map`` over the column, no Python loop per value)."""
    vocab = tuple(sorted(v for v in dict.fromkeys(values) if v is not None))
    index: dict[Any, int] = {v: i for i, v in enumerate(vocab)}
    index[None] = -1
    return vocab, np.fromiter(map(index.__getitem__, values), dtype, count=len(values))


@dataclass(frozen=True, eq=False)
class CustomerColumns:
    """A minimized customer base as arrays; see the module docstring. Never pickled: it holds personal data."""

    purpose: str
    products: tuple[str, ...]
    versions: tuple[str, ...]
    platforms: tuple[str, ...]
    regions: tuple[str, ...]
    locales: tuple[str, ...]
    segments: tuple[str, ...]
    customer: np.ndarray
    region: np.ndarray
    locale: np.ndarray
    segment: np.ndarray
    consented: np.ndarray
    channels: np.ndarray
    preferred: np.ndarray
    usage: np.ndarray
    owner: np.ndarray
    position: np.ndarray
    product: np.ndarray
    version: np.ndarray
    platform: np.ndarray
    status: np.ndarray

    def __post_init__(self) -> None:
        n, m = self.customer.shape[0], self.owner.shape[0]
        for name in ("region", "locale", "segment", "consented", "channels", "preferred", "usage"):
            if getattr(self, name).shape != (n,):
                raise ParameterError(name, f"an array of shape ({n},), one entry per customer",
                                     getattr(self, name).shape)
        for name in ("position", "product", "version", "platform", "status"):
            if getattr(self, name).shape != (m,):
                raise ParameterError(name, f"an array of shape ({m},), one entry per owned item",
                                     getattr(self, name).shape)
        if m and (int(self.owner.min()) < 0 or int(self.owner.max()) >= n):
            raise ParameterError("owner", f"customer rows in [0, {n})", (int(self.owner.min()), int(self.owner.max())))

    @property
    def n_customers(self) -> int:
        return int(self.customer.shape[0])

    @property
    def n_rows(self) -> int:
        """How many owned items."""
        return int(self.owner.shape[0])

    def __repr__(self) -> str:
        return (f"CustomerColumns(purpose={self.purpose!r}, {self.n_customers} customers "
                f"({int(self.consented.sum())} consented), {self.n_rows} owned items)")

    def __reduce__(self) -> Any:
        raise TypeError("CustomerColumns hold personal data and are never pickled; scan the gateway again where "
                        "they are needed (each scan is audited)")

    def channel_names(self) -> np.ndarray:
        """The preferred consented channel per customer as strings (``"none"`` where there is none)."""
        names = np.array([*CHANNELS, "none"], dtype=object)
        return names[np.where(self.preferred < 0, len(CHANNELS), self.preferred)]

    def to_pandas(self) -> tuple[Any, Any]:
        """(customers, owned) as two pandas DataFrames of strings, the table shape `kbrank.proactive.spark`
        reads (``customer`` joins them; ``consented`` customers only carry channels)."""
        pd = require_pandas()

        def names(vocab: tuple[str, ...], codes: np.ndarray) -> Any:
            return pd.Categorical.from_codes(codes.astype(np.int64), categories=list(vocab)).astype(object)

        customer = np.char.decode(self.customer.astype("S"), "ascii").astype(object)
        anonymous = ~self.consented  # no pseudonym: a per-scan row number keeps them apart
        customer[anonymous] = np.char.add("anonymous-", np.flatnonzero(anonymous).astype(str)).astype(object)
        customers = pd.DataFrame({
            "customer": customer, "region": names(self.regions, self.region),
            "locale": names(self.locales, self.locale), "segment": names(self.segments, self.segment),
            "consented": self.consented.astype(bool), "preferred_channel": self.channel_names(),
            "usage": self.usage.astype(np.int64),
            **{f"channel_{c}": (self.channels >> i & 1).astype(bool) for i, c in enumerate(CHANNELS)}})
        owned = pd.DataFrame({
            "customer": customer[self.owner], "position": self.position.astype(np.int64),
            "product": names(self.products, self.product), "version": names(self.versions, self.version),
            "platform": names(self.platforms, self.platform),
            "status": np.asarray(STATUSES, dtype=object)[self.status]})
        return customers, owned


def build_columns(stored: StoredColumns, purpose: Purpose, *, granted: np.ndarray, include_unconsented: bool,
                  with_usage: bool) -> tuple[CustomerColumns, int]:
    """Mask and encode a store's columns for ``purpose`` (a `Purpose`); ``granted`` says per customer whether
    the purpose's consent holds. Returns the columns and how many unconsented customers they carry."""
    n = len(stored.pseudonyms)
    channel_bits = np.zeros(n, np.uint8)
    if purpose.contact:
        for i, channel in enumerate(CHANNELS):
            channel_bits |= stored.consents[f"channel:{channel}"].astype(np.uint8) << i
        granted = granted & (channel_bits > 0)
    keep = np.ones(n, bool) if include_unconsented else granted
    rows = np.flatnonzero(keep)
    customer = np.array(stored.pseudonyms, dtype="S64") if n else np.zeros(0, "S64")
    if "customer" not in purpose.allowance:
        customer[:] = b""
    customer[~granted] = b""
    preferred_index = {**{c: i for i, c in enumerate(CHANNELS)}, "none": -1}
    preferred = np.fromiter(map(preferred_index.__getitem__, stored.preferred), np.int8, count=n)
    consented_preferred = (preferred >= 0) & ((channel_bits >> np.maximum(preferred, 0).astype(np.uint8)) & 1 > 0)
    preferred = np.where(granted & consented_preferred, preferred, -1).astype(np.int8)
    # usage needs its own consent; the anonymous rows of unconsented customers carry it too, so that they are
    # counted exactly (a sum, never the events)
    usage_ok = stored.consents.get("usage", np.zeros(n, bool)) if with_usage else np.zeros(n, bool)
    usage = np.where(usage_ok, stored.usage, -1).astype(np.int64)
    channel_bits = np.where(granted, channel_bits, 0).astype(np.uint8)
    # owned items of the kept customers, renumbered to the kept rows
    new_row = np.full(n, -1, np.int64)
    new_row[rows] = np.arange(rows.size)
    item_keep = new_row[stored.owner] >= 0 if stored.owner.size else np.zeros(0, bool)
    items = np.flatnonzero(item_keep)

    def pick(values: Sequence[Any], where: np.ndarray, size: int) -> Sequence[Any]:
        return values if where.size == size else _objects(values)[where]

    m = stored.owner.size
    products, product = encode(pick(stored.products, items, m))
    versions, version = encode(pick(stored.versions, items, m), np.int32)
    platforms, platform = encode(pick(stored.platforms, items, m))
    status_index = {s: i for i, s in enumerate(STATUSES)}
    status = np.fromiter(map(status_index.__getitem__, pick(stored.statuses, items, m)), np.int8, count=items.size)
    regions, region = encode(pick(stored.regions, rows, n))
    locales, locale = encode(pick(stored.locales, rows, n))
    segments, segment = encode(pick(stored.segments, rows, n))
    columns = CustomerColumns(
        purpose=purpose.name, products=products, versions=versions, platforms=platforms, regions=regions,
        locales=locales, segments=segments, customer=customer[rows], region=region, locale=locale,
        segment=segment, consented=granted[rows], channels=channel_bits[rows], preferred=preferred[rows],
        usage=usage[rows], owner=new_row[stored.owner[items]].astype(np.int32),
        position=stored.position[items].astype(np.int32), product=product, version=version, platform=platform,
        status=status)
    return columns, int((~granted[rows]).sum())


def scan_fields(purpose: Purpose, columns: CustomerColumns, *, unconsented: int, with_usage: bool) -> list[str]:
    """What the audit record of a columnar scan names: the fields handed out, then the counts."""
    fields = ["owned.product", "owned.version", "owned.platform", "owned.status", "region", "locale", "segment"]
    if "customer" in purpose.allowance:
        fields.insert(0, "customer")
    if purpose.contact:
        fields += ["preferred_channel", "channels"]
    if with_usage:
        fields.append("usage.count")
    return fields + [f"#customers={columns.n_customers}", f"#unconsented={unconsented}", f"#rows={columns.n_rows}"]


class ColumnSource(Protocol):
    """What a columnar scan needs of a store: `kbrank.privacy.store.ProfileStore.scan_columns`."""

    def scan_columns(self, *, products: Sequence[str] | None = None, scopes: Sequence[str] = (),
                     usage: UsageQuery | None = None) -> StoredColumns: ...


def columnar_scan(store: ColumnSource, purpose: Purpose, *, products: Iterable[str] | None, usage: UsageQuery | None,
                  include_unconsented: bool, usage_since: dt.datetime | None) -> tuple[CustomerColumns, list[str]]:
    """Carry out `ProfileGateway.scan_columns` for a resolved `Purpose`: (columns, audited fields)."""
    if "owned" not in purpose.allowance:
        raise ParameterError("purpose", "a purpose that hands out owned products", purpose.name)
    wanted: tuple[str, ...] | None = None
    if products is not None:
        items = (products,) if isinstance(products, str) else tuple(products)
        if not all(isinstance(p, str) and p for p in items):
            raise ParameterError("products", "product ids (non-empty strings), or None for every product", products)
        wanted = tuple(sorted(set(items)))
    if usage is not None and not isinstance(usage, UsageQuery):
        raise ParameterError("usage", "a UsageQuery or None", usage)
    with_usage = usage is not None and "usage" in purpose.allowance
    if usage is not None and with_usage and usage_since is not None and (usage.since is None or usage.since < usage_since):
        usage = UsageQuery(usage.features, usage.products, usage_since)
    scopes = (purpose.consent, "usage", *(channel_scope(c) for c in CHANNELS))
    stored = store.scan_columns(products=wanted, scopes=scopes, usage=usage if with_usage else None)
    columns, unconsented = build_columns(stored, purpose, granted=stored.consents[purpose.consent],
                                         include_unconsented=include_unconsented, with_usage=with_usage)
    return columns, scan_fields(purpose, columns, unconsented=unconsented, with_usage=with_usage)
