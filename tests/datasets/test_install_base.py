"""The install-base generator: deterministic, realistic, and its columns mean what the gateway's columnar scan
means (checked by running the plain per-customer reference on records rebuilt from the base)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pytest

from kbrank.datasets import load_helpcentre
from kbrank.datasets._helpcentre_catalog import PRODUCTS
from kbrank.datasets.install_base import generate_install_base
from kbrank.errors import ParameterError
from kbrank.privacy import CHANNELS, UsageQuery
from kbrank.proactive import select_from_columns

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "proactive"))
from _proactive_reference import reference_audience

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)


def test_the_same_seed_gives_the_same_base_and_a_larger_base_extends_a_smaller_one() -> None:
    a, b = generate_install_base(3000, seed=4), generate_install_base(3000, seed=4)
    for name, value in vars(a).items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(value, getattr(b, name)), name
    assert not np.array_equal(generate_install_base(3000, seed=5).product, a.product)
    with pytest.raises(ParameterError, match="n_customers must be an integer >= 1"):
        generate_install_base(0)


def test_the_base_is_realistic() -> None:
    base = generate_install_base(20000, seed=1)
    assert len(set(base.customer.tolist())) == base.n_customers
    assert np.all(np.diff(base.owner) >= 0)  # rows by customer
    for p, pid in enumerate(base.products):
        versions = {base.versions[c] for c in np.unique(base.version[base.product == p])}
        assert versions <= set(PRODUCTS[pid]["versions"]), pid
    hardware = ~np.isin(base.product, [base.products.index("app-home"), base.products.index("router-x100")])
    active_hardware = np.bincount(base.owner[hardware & (base.status == 0)], minlength=base.n_customers)
    assert active_hardware.min() >= 1
    per_customer = np.bincount(base.owner, minlength=base.n_customers)
    assert 2.0 < per_customer.mean() < 4.0
    assert 0.55 < base.contact.mean() < 0.65 and 0.88 < (base.channels & 1).mean() < 0.96
    share = np.bincount(base.product, minlength=len(base.products)) / base.n_customers
    assert share[base.products.index("router-x200")] > share[base.products.index("bell-d2")]
    apac = base.regions.index("apac")
    assert not np.any(np.isin(base.owner, np.flatnonzero(base.region == apac)) & (
        base.product == base.products.index("router-m10")))  # the M10 is not sold in APAC


def _records(base) -> list[dict]:
    """Plain customer records rebuilt from the base, in the help centre's schema (small bases only)."""
    name = lambda vocab, code: None if code < 0 else vocab[code]  # noqa: E731
    records = [{"customer_id": key.decode(), "region": name(base.regions, base.region[i]),
                "locale": name(base.locales, base.locale[i]), "segment": name(base.segments, base.segment[i]),
                "owned": [], "usage": [],
                "preferred_channel": "none" if base.preferred[i] < 0 else CHANNELS[base.preferred[i]],
                "consents": {"proactive-contact": bool(base.contact[i]), "usage": bool(base.usage_consent[i]),
                             "channels": {c: bool(base.channels[i] >> n & 1) for n, c in enumerate(CHANNELS)}}}
               for i, key in enumerate(base.customer)]
    for row in range(base.owner.size):
        records[base.owner[row]]["owned"].append({
            "product": base.products[base.product[row]], "version": base.versions[base.version[row]],
            "platform": name(base.platforms, base.platform[row]), "status": ("active", "returned", "retired")[
                base.status[row]]})
    for row in range(base.usage_owner.size):
        records[base.usage_owner[row]]["usage"].append({
            "product": base.products[base.usage_product[row]], "feature": base.features[base.usage_feature[row]],
            "count": int(base.usage_count[row]),
            "timestamp": dt.datetime.fromtimestamp(int(base.usage_seen[row]), dt.timezone.utc).isoformat()})
    return records


def test_its_columns_select_what_the_per_customer_reference_selects() -> None:
    base = generate_install_base(3000, seed=2)
    records = _records(base)
    issues = [i for i in load_helpcentre().known_issues if i.usage is not None][:3] + list(
        load_helpcentre().known_issues[:5])
    for issue in issues:
        usage = None if issue.usage is None else UsageQuery(issue.usage.feature, issue.usage.product,
                                                            issue.usage.since(NOW))
        audience = select_from_columns(issue, base.columns(usage=usage, products=issue.scope.products), now=NOW)
        expected, affected, unconsented = reference_audience(issue, records, now=NOW, retention=None)
        assert {e.customer for e in audience} == set(expected), issue.id
        assert (audience.n_affected, audience.n_unconsented) == (affected, unconsented)
        for entry in audience:
            want = expected[entry.customer]
            assert (entry.version, entry.decision.reason, entry.channel) == (want["version"], want["reason"],
                                                                           want["channel"])


def test_write_parquet_writes_the_three_tables(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    base = generate_install_base(500, seed=3)
    base.write_parquet(tmp_path)
    customers, owned, usage = (pq.read_table(tmp_path / f"{n}.parquet") for n in ("customers", "owned", "usage"))
    assert (customers.num_rows, owned.num_rows, usage.num_rows) == (500, base.owner.size, base.usage_owner.size)
    first = owned.slice(0, 1).to_pylist()[0]
    assert first["customer"] == base.customer[base.owner[0]].decode()
    assert first["version"] == base.versions[base.version[0]]


def test_loaded_into_a_gateway_the_base_selects_the_same_audience() -> None:
    from kbrank.datasets.install_base import iter_profile_records
    from kbrank.privacy import ProfileGateway
    from kbrank.proactive import select_affected

    base = generate_install_base(1500, seed=6)
    with ProfileGateway.in_memory(key="install-base-key-0123456789", now=lambda: NOW, retention=None) as gateway:
        gateway.load_records(iter_profile_records(base))
        for issue in [i for i in load_helpcentre().known_issues if i.open][:6]:
            usage = None if issue.usage is None else UsageQuery(issue.usage.feature, issue.usage.product,
                                                                issue.usage.since(NOW))
            via_gateway = select_affected(issue, gateway)
            direct = select_from_columns(issue, base.columns(usage=usage), now=NOW)
            assert {e.customer for e in via_gateway} == {gateway.pseudonymize(e.customer) for e in direct}
            assert (via_gateway.n_affected, via_gateway.n_unconsented) == (direct.n_affected, direct.n_unconsented)
            assert sorted(e.clause for e in via_gateway) == sorted(e.clause for e in direct)
