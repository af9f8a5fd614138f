"""The PySpark job (local mode, Java 17) selects exactly the customers the embedded path selects, with the same
clauses, impact decisions and channels, on the same data: the demo help centre's customers as tables (from
pandas, from Parquet, and from the gateway's columnar scan)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import os

import pytest

if importlib.util.find_spec("pyspark") is None:  # CI installs the spark extra: there a missing pyspark fails
    if os.environ.get("CI") or os.environ.get("KBRANK_REQUIRE_DATA") == "1":
        pytest.fail("pyspark is not installed; CI must install kbrank[spark]", pytrace=False)
    pytest.skip("pyspark is not installed (pip install 'kbrank[spark]')", allow_module_level=True)
pytestmark = pytest.mark.slow  # one JVM start (about 15 s) plus a few dozen small jobs

from kbrank.applicability import Scope  # noqa: E402
from kbrank.datasets import generate_helpcentre  # noqa: E402
from kbrank.privacy import ProfileGateway, UsageQuery  # noqa: E402
from kbrank.proactive import KnownIssue, UsageCondition, select_affected, select_from_columns  # noqa: E402
from kbrank.proactive.spark import affected_counts, local_session, read_install_base, select_affected_spark  # noqa: E402

KEY = "proactive-spark-key-0123456789abcdef"
HC = generate_helpcentre(n_customers=300)
NOW = dt.datetime.combine(HC.as_of, dt.time(), tzinfo=dt.timezone.utc)
SCHEMAS = {
    "customers": "customer string, region string, locale string, segment string, consented boolean, "
                 "channel_email boolean, channel_sms boolean, channel_push boolean, preferred_channel string, "
                 "usage_consent boolean",
    "columns": "customer string, region string, locale string, segment string, consented boolean, "
               "preferred_channel string, usage long, channel_email boolean, channel_sms boolean, channel_push boolean",
    "owned": "customer string, position long, product string, version string, platform string, status string",
    "usage": "customer string, product string, feature string, count long, timestamp timestamp",
}
FIELDS = ("product", "version", "platform", "region", "locale", "segment", "clause", "contact", "decision", "channel")


@pytest.fixture(scope="module")
def spark():
    session = local_session(app_name="kbrank-tests", cores=2, memory="1g", partitions=2)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def gateway():
    with ProfileGateway.from_helpcentre(HC, key=KEY) as gateway:
        yield gateway


def _tables(gateway: ProfileGateway):
    import pandas as pd

    customers, owned, usage = [], [], []
    for r in HC.customers:
        key = gateway.pseudonymize(r["customer_id"])
        customers.append({"customer": key, "region": r["region"], "locale": r["locale"], "segment": r["segment"],
                          "consented": r["consents"]["proactive-contact"],
                          **{f"channel_{c}": r["consents"]["channels"][c] for c in ("email", "sms", "push")},
                          "preferred_channel": r["preferred_channel"], "usage_consent": r["consents"]["usage"]})
        owned += [{"customer": key, "position": n, **{k: item[k] for k in ("product", "version", "platform", "status")}}
                  for n, item in enumerate(r["owned"])]
        usage += [{"customer": key, "product": e["product"], "feature": e["feature"], "count": e["count"],
                   "timestamp": pd.Timestamp(e["timestamp"])} for e in r["usage"]]
    return pd.DataFrame(customers), pd.DataFrame(owned), pd.DataFrame(usage)


ISSUES = [
    *[i for i in HC.known_issues if i.usage is not None][:2],
    *[i for i in HC.known_issues if i.scope.platforms][:2],
    next(i for i in HC.known_issues if len(i.scope.products) > 1),
    KnownIssue(id="restricted", title="", impact="degraded", scope=Scope(
        products=("router-x200", "cam-c10"), versions={"router-x200": ">=2.0,<2.4"}, regions=("eu", "uk"),
        audience=("pro", "business", "consumer"))),
    KnownIssue(id="locale", title="", impact="degraded", scope=Scope(products=("cam-c20",), locales=("de-DE",)),
               usage=UsageCondition(feature=("live-view", "cloud-recording"), within_days=90, min_events=20)),
]


def _frame(spark, frame, schema: str):
    """A Spark DataFrame from pandas rows (not from pandas itself: PySpark warns about pandas 3)."""
    def plain(value):
        if value is None or value != value:  # None or NaN
            return None
        return value.to_pydatetime() if hasattr(value, "to_pydatetime") else value

    rows = [tuple(map(plain, row)) for row in frame.itertuples(index=False)]
    return spark.createDataFrame(rows, SCHEMAS[schema])


def _compare(audience, rows) -> None:
    consented = {r["customer"]: r for r in rows if r["consented"]}
    assert set(consented) == {e.customer for e in audience}
    for entry in audience:
        row = consented[entry.customer]
        assert tuple(row[f] for f in FIELDS) == (entry.product, entry.version, entry.platform, entry.region,
                                                 entry.locale, entry.segment, entry.clause, entry.decision.contact,
                                                 entry.decision.reason, entry.channel)
    assert len(rows) == audience.n_affected
    assert sum(not r["consented"] for r in rows) == audience.n_unconsented
    assert all(r["channel"] is None and not r["contact"] for r in rows if not r["consented"])


@pytest.fixture(scope="module")
def parquet_tables(spark, gateway, tmp_path_factory):
    folder = tmp_path_factory.mktemp("install-base")
    for name, frame in zip(("customers", "owned", "usage"), _tables(gateway)):
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    tables = [t.cache() for t in read_install_base(spark, str(folder))]
    for table in tables:
        table.count()
    yield tables
    for table in tables:
        table.unpersist()


def test_spark_selects_the_same_customers_with_the_same_reasons(spark, gateway, parquet_tables) -> None:
    customers, owned, usage = parquet_tables
    compared = 0
    for issue in ISSUES:
        audience = select_affected(issue, gateway)
        if audience.n_affected == 0:
            continue
        _compare(audience, select_affected_spark(issue, customers, owned, usage=usage, now=NOW).collect())
        compared += 1
    assert compared >= 5
    result = select_affected_spark(issue, customers, owned, usage=usage, now=NOW)
    assert affected_counts(result) == {"affected": audience.n_affected, "unconsented": audience.n_unconsented,
                                       "to_contact": audience.n_to_contact}


def test_spark_over_dataframes_built_from_python_rows(spark, gateway) -> None:
    customers, owned, usage = (_frame(spark, frame, name) for frame, name in zip(_tables(gateway), (
        "customers", "owned", "usage")))
    issue = ISSUES[0]
    _compare(select_affected(issue, gateway), select_affected_spark(issue, customers, owned, usage=usage,
                                                                    now=NOW).collect())


def test_spark_over_the_gateways_columnar_scan(spark, gateway) -> None:
    issue = ISSUES[-1]
    query = UsageQuery(issue.usage.feature, issue.usage.product, issue.usage.since(NOW))
    columns = gateway.scan_columns("proactive-contact", products=issue.scope.products, usage=query,
                                   include_unconsented=True)
    customers, owned = columns.to_pandas()
    result = select_affected_spark(issue, _frame(spark, customers, "columns"), _frame(spark, owned, "owned"), now=NOW)
    _compare(select_from_columns(issue, columns, now=NOW), result.collect())


def test_spark_on_a_generated_install_base(spark, tmp_path_factory) -> None:
    from kbrank.datasets.install_base import generate_install_base

    base = generate_install_base(4000, seed=7)
    folder = base.write_parquet(tmp_path_factory.mktemp("generated"))
    customers, owned, usage = read_install_base(spark, str(folder))
    issue = next(i for i in HC.known_issues if i.usage is not None and i.open)
    query = UsageQuery(issue.usage.feature, issue.usage.product, issue.usage.since(NOW))
    embedded = select_from_columns(issue, base.columns(usage=query, products=issue.scope.products), now=NOW)
    assert embedded.n_affected > 20
    _compare(embedded, select_affected_spark(issue, customers, owned, usage=usage, now=NOW).collect())


def test_tables_without_the_needed_columns_are_refused(spark, parquet_tables) -> None:
    from kbrank.errors import ParameterError

    customers, owned, usage = parquet_tables
    with pytest.raises(ParameterError, match="Missing: status"):
        select_affected_spark(ISSUES[0], customers, owned.drop("status"), usage=usage, now=NOW)
    with pytest.raises(ParameterError, match="Missing: usage_consent"):
        select_affected_spark(ISSUES[0], customers.drop("usage_consent"), owned, usage=usage, now=NOW)
    with pytest.raises(ParameterError, match="a Spark DataFrame"):
        select_affected_spark(ISSUES[0], [{"customer": "x"}], owned, usage=usage, now=NOW)
