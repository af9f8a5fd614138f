"""The same audience selection as a PySpark job, for customer bases that outgrow one machine (``kbrank[spark]``).

Input tables (Spark DataFrames, from Parquet with `read_install_base` or from anywhere else):

``customers``: ``customer`` (the pseudonym, string), ``region``, ``locale``, ``segment`` (strings, null =
unknown), ``consented`` (bool: consent to proactive contact), ``channel_email``, ``channel_sms``,
``channel_push`` (bool: consent per channel), ``preferred_channel`` (string), and either ``usage_consent``
(bool, with a ``usage`` events table) or ``usage`` (a pre-summed count, -1 = unknown: the shape of
`CustomerColumns.to_pandas`).

``owned``: ``customer``, ``position`` (order within the profile), ``product``, ``version``, ``platform``,
``status``. ``usage`` (optional): ``customer``, ``product``, ``feature``, ``timestamp``, ``count``.

The job follows `kbrank.proactive.audience` step by step with native expressions: the distinct (product,
version) pairs are collected (a few hundred), judged once on the driver with `kbrank.applicability`, and
broadcast-joined back; platform, region, locale and segment are ``isin`` tests; usage is a filtered
``groupBy``; the first passing item per customer is a ``min`` over a struct ordered by position; the impact
decision is a broadcast join against a small table built on the driver (per segment named by the policy and
usage outcome); the clause is one string expression that mirrors `kbrank.proactive.audience.clause`. No
Python UDF runs per row. The result has one row per affected
customer: the same customers, clauses, decisions and channels as `select_affected`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

from ..errors import MissingDependencyError, ParameterError
from .impact import DEFAULT_POLICY, ImpactPolicy
from .issues import KnownIssue

__all__ = ["OUTPUT_COLUMNS", "affected_counts", "local_session", "read_install_base", "select_affected_spark"]

#: The columns of `select_affected_spark`'s result.
OUTPUT_COLUMNS = ("customer", "consented", "product", "version", "platform", "region", "locale", "segment",
                  "clause", "contact", "decision", "channel")
_DIMENSIONS = ("version", "platform", "region", "locale", "audience", "usage")
_CUSTOMER_COLUMNS = ("customer", "region", "locale", "segment", "consented", "channel_email", "channel_sms",
                     "channel_push", "preferred_channel")
_OWNED_COLUMNS = ("customer", "position", "product", "version", "platform", "status")
_USAGE_COLUMNS = ("customer", "product", "feature", "timestamp", "count")


def _require(name: str, frame: Any, columns: tuple[str, ...]) -> None:
    present = set(getattr(frame, "columns", ()) or ())
    if not hasattr(frame, "sparkSession"):
        raise ParameterError(name, "a Spark DataFrame", type(frame).__name__)
    missing = [c for c in columns if c not in present]
    if missing:
        raise ParameterError(name, f"a table with the columns {', '.join(columns)}", sorted(present),
                             hint=f"Missing: {', '.join(missing)} (see kbrank.proactive.spark's docstring).")


def _spark() -> Any:
    try:
        import pyspark.sql.functions as F
    except ImportError:
        raise MissingDependencyError("pyspark", "spark") from None
    return F


def local_session(*, app_name: str = "kbrank", cores: int = 2, memory: str = "2g",
                  partitions: int | None = None) -> Any:
    """A SparkSession in local mode (``local[cores]``) without the web UI, with ``partitions`` shuffle
    partitions (default twice the cores: Spark's 200 are far too many on one machine)."""
    _spark()
    from pyspark.sql import SparkSession

    return (SparkSession.builder.master(f"local[{cores}]").appName(app_name)
            .config("spark.driver.memory", memory).config("spark.sql.shuffle.partitions", str(partitions or cores * 2))
            .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false").config("spark.sql.session.timeZone", "UTC").getOrCreate())


def read_install_base(spark: Any, folder: str) -> tuple[Any, Any, Any | None]:
    """(customers, owned, usage or None) from ``customers.parquet``, ``owned.parquet`` and ``usage.parquet``."""
    from pathlib import Path

    root = Path(folder)
    for name in ("customers", "owned"):
        if not (root / f"{name}.parquet").exists():
            raise ParameterError("folder", f"a folder holding {name}.parquet", str(folder))
    usage = root / "usage.parquet"
    return (spark.read.parquet(str(root / "customers.parquet")), spark.read.parquet(str(root / "owned.parquet")),
            spark.read.parquet(str(usage)) if usage.exists() else None)


def _outcome(F: Any, column: Any, allowed: tuple[str, ...]) -> Any:
    if not allowed:
        return F.lit("open")
    return F.when(column.isNull(), "unknown").when(column.isin(list(allowed)), "in").otherwise("out")


def _usage_outcome(F: Any, issue: KnownIssue, customers: Any, usage: Any, now: dt.datetime) -> Any:
    """The customers table with a ``usage_outcome`` column."""
    if issue.usage is None:
        return customers.withColumn("usage_outcome", F.lit("open"))
    condition = issue.usage
    if usage is not None:
        events = usage.where(F.col("feature").isin(list(condition.feature)))
        if condition.product:
            events = events.where(F.col("product").isin(list(condition.product)))
        since = condition.since(now)
        if since is not None:
            events = events.where(F.col("timestamp") >= F.lit(since.astimezone(dt.timezone.utc).replace(tzinfo=None)))
        sums = events.groupBy("customer").agg(F.sum("count").alias("_used"))
        customers = customers.join(sums, "customer", "left").withColumn(
            "_used", F.when(F.col("usage_consent"), F.coalesce(F.col("_used"), F.lit(0))).otherwise(F.lit(-1)))
    else:
        customers = customers.withColumn("_used", F.col("usage"))
    return customers.withColumn("usage_outcome", F.when(F.col("_used") < 0, "unknown").when(
        F.col("_used") >= condition.min_events, "in").otherwise("out")).drop("_used")


def _small_frame(spark: Any, rows: Sequence[tuple[object, ...]], names: list[str], types: list[str]) -> Any:
    schema = ", ".join(f"{n} {t}" for n, t in zip(names, types))
    return spark.createDataFrame(rows, schema)


def _clause_expr(F: Any, issue: KnownIssue) -> Any:
    """`kbrank.proactive.audience.clause` as one native string expression (the tests hold them equal)."""
    spec = F.lit(None).cast("string")
    for product, text in issue.scope.versions.items():
        spec = F.when(F.col("product") == product, F.lit(text)).otherwise(spec)
    version = F.col("version_outcome")
    parts = [F.when(F.col("version").isNotNull(), F.concat(F.lit("owns "), F.col("product"), F.lit(" "), F.col("version")))
             .otherwise(F.concat(F.lit("owns "), F.col("product"), F.lit(" (version unknown)"))),
             F.when(version == "in", F.concat(F.lit("within "), spec))
             .when(version == "unknown", F.concat(F.lit("version not known to be outside "), spec))]
    for name, shown, label in (("platform", F.concat(F.lit("on "), F.col("platform")), "platform"),
                               ("region", F.upper(F.col("region")), "region"), ("locale", F.col("locale"), "locale"),
                               ("audience", F.concat(F.col("segment"), F.lit(" customer")), "segment")):
        outcome = F.col(f"{name}_outcome")
        parts.append(F.when(outcome == "in", shown).when(outcome == "unknown", F.lit(f"{label} unknown")))
    if issue.usage is not None:
        parts.append(F.when(F.col("usage_outcome") == "in", F.lit(issue.usage.describe()))
                     .otherwise(F.lit("usage not known")))
    return F.concat_ws(", ", *parts)


def select_affected_spark(issue: KnownIssue, customers: Any, owned: Any, *, usage: Any = None,
                          policy: ImpactPolicy = DEFAULT_POLICY, now: dt.datetime | None = None) -> Any:
    """The affected customers of ``issue`` as a DataFrame (`OUTPUT_COLUMNS`, one row per customer; the
    unconsented ones with ``consented`` false and no channel: count them, never contact them)."""
    F = _spark()
    if not isinstance(issue, KnownIssue):
        raise ParameterError("issue", "a KnownIssue", type(issue).__name__)
    now = now or dt.datetime.now(dt.timezone.utc)
    needs_usage = issue.usage is not None
    _require("customers", customers, (*_CUSTOMER_COLUMNS, *(("usage_consent",) if needs_usage and usage is not None
                                                           else ("usage",) if needs_usage else ())))
    _require("owned", owned, _OWNED_COLUMNS)
    if needs_usage and usage is not None:
        _require("usage", usage, _USAGE_COLUMNS)
    spark = owned.sparkSession
    scope = issue.scope
    items = owned.where(F.col("product").isin(list(scope.products)) & (F.col("status") == "active"))
    pairs = [(r["product"], r["version"]) for r in items.select("product", "version").distinct().collect()]
    verdicts = _small_frame(spark, [(p, v, scope.version_outcome(p, v)) for p, v in pairs],
                            ["v_product", "v_version", "version_outcome"], ["string", "string", "string"])
    items = items.join(F.broadcast(verdicts), (items["product"] == verdicts["v_product"])
                       & items["version"].eqNullSafe(verdicts["v_version"])).drop("v_product", "v_version")
    items = items.withColumn("platform_outcome", _outcome(F, F.col("platform"), scope.platforms))
    people = _usage_outcome(F, issue, customers, usage, now).select(
        "customer", "region", "locale", "segment", "consented", "channel_email", "channel_sms", "channel_push",
        "preferred_channel", "usage_outcome")
    for name, column, allowed in (("region", "region", scope.regions), ("locale", "locale", scope.locales),
                                  ("audience", "segment", scope.audience)):
        people = people.withColumn(f"{name}_outcome", _outcome(F, F.col(column), allowed))
    rows = items.join(people, "customer")
    outcomes = [F.col(f"{d}_outcome") for d in _DIMENSIONS]
    passing = rows.where(~F.array_contains(F.array(*outcomes), "out"))
    carried = ("product", "version", "platform", "platform_outcome", "version_outcome", "region", "locale",
               "segment", "consented", "channel_email", "channel_sms", "channel_push", "preferred_channel",
               "usage_outcome", "region_outcome", "locale_outcome", "audience_outcome")
    first = passing.groupBy("customer").agg(F.min(F.struct("position", *carried)).alias("item"))
    chosen = first.select("customer", *[F.col(f"item.{c}").alias(c) for c in carried])
    # a segment no rule names decides like an unknown one, so the table needs only the named segments
    named = sorted({s for rule in policy.rules for s in rule.segments})
    decisions = [(segment, usage_outcome, policy.rule_for(issue.impact, segment, usage_outcome))
                 for segment in (*named, None) for usage_outcome in ("in", "unknown", "open")]
    table = _small_frame(spark, [(s, u, policy.rules[r].contact, policy.rules[r].reason) for s, u, r in decisions],
                         ["d_segment", "d_usage", "contact", "decision"], ["string", "string", "boolean", "string"])
    segment_key = F.when(F.col("segment").isin(named), F.col("segment")) if named else F.lit(None).cast("string")
    chosen = chosen.withColumn("_segment", segment_key)
    chosen = chosen.join(F.broadcast(table), chosen["_segment"].eqNullSafe(table["d_segment"])
                         & (chosen["usage_outcome"] == table["d_usage"])).drop("d_segment", "d_usage", "_segment")
    chosen = chosen.withColumn("clause", _clause_expr(F, issue))
    flags = {c: F.coalesce(F.col(f"channel_{c}"), F.lit(False)) for c in ("email", "sms", "push")}
    consented = F.coalesce(F.col("consented"), F.lit(False)) & (flags["email"] | flags["sms"] | flags["push"])
    preferred = F.col("preferred_channel")
    channel = (F.when(~consented, F.lit(None))
               .when((preferred == "email") & flags["email"], "email").when((preferred == "sms") & flags["sms"], "sms")
               .when((preferred == "push") & flags["push"], "push")
               .when(flags["email"], "email").when(flags["sms"], "sms").otherwise("push"))
    return chosen.select("customer", consented.alias("consented"), "product", "version", "platform", "region",
                         "locale", "segment", "clause", (F.col("contact") & consented).alias("contact"), "decision",
                         channel.alias("channel"))


def affected_counts(affected: Any) -> dict[str, int]:
    """``affected``, ``unconsented`` and ``to_contact`` counts of a `select_affected_spark` result."""
    F = _spark()
    row = affected.agg(F.count(F.lit(1)).alias("affected"),
                       F.sum(F.when(~F.col("consented"), 1).otherwise(0)).alias("unconsented"),
                       F.sum(F.when(F.col("contact"), 1).otherwise(0)).alias("to_contact")).collect()[0]
    return {name: int(row[name] or 0) for name in ("affected", "unconsented", "to_contact")}
