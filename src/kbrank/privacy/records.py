"""Convert between plain records (the demo help centre's customer dicts, JSONL lines, DataFrame rows) and
`CustomerProfile`, validating every field.

The record schema is the one `kbrank.datasets.helpcentre` documents::

    {"customer_id": "cust-0001", "region": "eu", "locale": "en-GB", "segment": "consumer",
     "owned": [{"product": "router-x200", "line": "router", "version": "2.3.1", "platform": "ios",
                "registered_at": "2025-03-01", "status": "active"}],
     "usage": [{"product": "router-x200", "feature": "parental-controls",
                "timestamp": "2026-10-01T12:00:00Z", "region": "eu", "count": 3}],
     "preferred_channel": "email", "addresses": {"email": "...", "sms": "+44..."},
     "consents": {"personalization": true, "usage": false, ..., "channels": {"email": true, ...}}}

A record carries either the raw ``customer_id`` (pseudonymized on load; the raw id is not kept) or an
already computed ``pseudonym`` (as written by `profile_to_record`). A consent value is a boolean or
``{"granted": bool, "recorded_at": "<ISO timestamp>"}``. Fields outside the schema are refused: kbrank keeps
only what a purpose uses (data minimization). Every problem raises a `ProfileError` naming the source, line,
field, value and fix; personal values (ids, addresses) are masked in the message.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Callable, Literal, Mapping, overload

from .._dates import parse_date
from .._io import unencodable_field
from ..applicability import parse_version
from ..errors import ParameterError, ProfileError, did_you_mean
from .profiles import (
    CHANNELS,
    PREFERRED_CHANNELS,
    STATUSES,
    ConsentRecord,
    CustomerProfile,
    OwnedProduct,
    UsageEvent,
    channel_scope,
    format_timestamp,
)
from .pseudonyms import is_pseudonym

__all__ = ["FIELDS", "KNOWN_SCOPES", "Masked", "profile_from_record", "profile_to_record"]

#: Every field a profile record may carry.
FIELDS = ("customer_id", "pseudonym", "region", "locale", "segment", "owned", "usage", "preferred_channel",
          "addresses", "consents")
_OWNED_FIELDS = ("product", "line", "version", "platform", "registered_at", "status")
_USAGE_FIELDS = ("product", "feature", "timestamp", "region", "count")
#: Consent scopes kbrank knows; others are accepted (for a deployer's own purposes) unless they look like a typo.
KNOWN_SCOPES = ("personalization", "usage", "chat", "proactive-contact", "evaluation", "analytics")
_SCOPE = re.compile(r"[a-z][a-z0-9-]*\Z")
_LOCALE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*\Z")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+\Z")
_PHONE = re.compile(r"\+?[0-9][0-9 ()-]{5,20}\Z")
#: The largest usage count kept (a signed 64-bit integer, what SQLite stores).
_MAX_COUNT = 2**63 - 1


class Masked:
    """Stands in for a personal value in an error: shows its kind and length, never its content."""

    __slots__ = ("kind", "length")

    def __init__(self, value: Any) -> None:
        self.kind = type(value).__name__
        self.length = len(value) if isinstance(value, (str, bytes, list, dict, tuple)) else None

    def __repr__(self) -> str:
        size = f" of length {self.length}" if self.length is not None else ""
        return f"<masked {self.kind}{size}>"


class _Where:
    """Where a record came from, to build errors."""

    def __init__(self, source: str | None, line: int | None) -> None:
        self.source, self.line = source, line

    def error(self, problem: str, field: str | None, fix: str, **value: Any) -> ProfileError:
        return ProfileError(problem, source=self.source, line=self.line, field=field, fix=fix, **value)


@overload
def _text(value: Any, where: _Where, field: str, *, optional: Literal[False], personal: bool = False) -> str: ...
@overload
def _text(value: Any, where: _Where, field: str, *, optional: bool = True, personal: bool = False) -> str | None: ...
def _text(value: Any, where: _Where, field: str, *, optional: bool = True, personal: bool = False) -> str | None:
    if value is None and optional:
        return None
    if isinstance(value, str) and value.strip():
        return value
    shown = Masked(value) if personal else value
    raise where.error("expected a non-empty string", field, f"write {field!r} as a JSON string", value=shown)


def _date(value: Any, where: _Where, field: str) -> dt.date | None:
    try:
        return parse_date(value)
    except ValueError:
        raise where.error("expected an ISO date", field, "write dates as 'YYYY-MM-DD'", value=value) from None


def _timestamp(value: Any, where: _Where, field: str) -> dt.datetime:
    moment: Any = value
    if hasattr(moment, "to_pydatetime"):
        moment = moment.to_pydatetime()
    if isinstance(moment, str):
        text = moment.strip()
        try:
            moment = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            moment = None
    if not isinstance(moment, dt.datetime):
        raise where.error("expected an ISO 8601 timestamp", field, "write e.g. '2026-10-01T12:00:00Z'", value=value)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise where.error("the timestamp has no time zone", field,
                          "add a UTC offset, e.g. '2026-10-01T12:00:00Z' (Z means UTC)", value=value)
    try:
        return moment.astimezone(dt.timezone.utc)
    except (OverflowError, ValueError):
        raise where.error("the timestamp is out of range in UTC", field,
                          "write a real date between years 1 and 9999 (in UTC)", value=value) from None


def _list(value: Any, where: _Where, field: str) -> list[object]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    raise where.error("expected a list of objects", field, f"write {field!r} as a JSON list [{{...}}, ...]",
                      value=value)


def _check_keys(item: Mapping[str, object], allowed: tuple[str, ...], where: _Where, prefix: str) -> None:
    for key in item:
        if key in allowed:
            continue
        close = did_you_mean(key, allowed, cutoff=0.75)
        hint = f"; did you mean {close!r}?" if close else ""
        fix = (f"rename it to {close!r}" if close else
               f"remove it: kbrank keeps only {', '.join(allowed)} (data minimization)")
        raise where.error(f"unknown field{hint}", f"{prefix}{key}", fix)


def _version(value: Any, where: _Where, field: str, strict: bool) -> str | None:
    """The owned version as given (``None`` when absent), checked by the one applicability model: lenient by
    default (firmware strings such as ``FW_2.3.1`` are compared by their number), PEP 440 with ``strict``."""
    if value is None:
        return None
    text = _text(value, where, field, optional=False)
    if strict:
        parse_version(text, strict=True, source=where.source, line=where.line, field=field)
    elif parse_version(text) is None:
        raise where.error("a version needs a number", field,
                          "write it as the inventory shows it (e.g. '2.3.1' or 'FW_2.3.1'), or leave it out "
                          "(null) when it is unknown", value=value)
    return text


def _owned(items: list[object], where: _Where, strict: bool) -> tuple[OwnedProduct, ...]:
    owned = []
    for n, item in enumerate(items):
        at = f"owned[{n}]"
        if not isinstance(item, Mapping):
            raise where.error("expected an object", at, 'write {"product": ..., "version": ...}', value=item)
        _check_keys(item, _OWNED_FIELDS, where, f"{at}.")
        product = _text(item.get("product"), where, f"{at}.product", optional=False)
        version = _version(item.get("version"), where, f"{at}.version", strict)
        status = item.get("status", "active")
        if not isinstance(status, str) or status not in STATUSES:
            raise where.error("unknown status", f"{at}.status", f"use one of {', '.join(STATUSES)}", value=status)
        owned.append(OwnedProduct(
            product=product, version=version, status=status,
            line=_text(item.get("line"), where, f"{at}.line"),
            platform=_text(item.get("platform"), where, f"{at}.platform"),
            registered_at=_date(item.get("registered_at"), where, f"{at}.registered_at")))
    return tuple(owned)


def _usage(items: list[object], where: _Where) -> tuple[UsageEvent, ...]:
    events = []
    for n, item in enumerate(items):
        at = f"usage[{n}]"
        if not isinstance(item, Mapping):
            raise where.error("expected an object", at, 'write {"product": ..., "feature": ..., "timestamp": ...}',
                              value=item)
        _check_keys(item, _USAGE_FIELDS, where, f"{at}.")
        count = item.get("count", 1)
        if isinstance(count, float) and count.is_integer():
            count = int(count)
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= _MAX_COUNT:
            raise where.error(f"expected a whole number from 0 to {_MAX_COUNT}", f"{at}.count",
                              "write a count such as 3", value=count)
        if "timestamp" not in item:
            raise where.error("missing timestamp", f"{at}.timestamp", "give every usage event a 'timestamp'")
        events.append(UsageEvent(
            product=_text(item.get("product"), where, f"{at}.product", optional=False),
            feature=_text(item.get("feature"), where, f"{at}.feature", optional=False),
            timestamp=_timestamp(item["timestamp"], where, f"{at}.timestamp"),
            region=_text(item.get("region"), where, f"{at}.region"), count=count))
    return tuple(events)


def _addresses(value: Any, where: _Where) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise where.error("expected an object mapping channel to address", "addresses",
                          'write {"email": "name@example.com", "sms": "+447700900123"}', value=Masked(value))
    addresses = {}
    for channel, address in value.items():
        at = f"addresses.{channel}"
        if channel not in CHANNELS:
            close = did_you_mean(channel, CHANNELS)
            hint = f"; did you mean {close!r}?" if close else ""
            raise where.error(f"unknown contact channel{hint}", at, f"use one of {', '.join(CHANNELS)}")
        if address is None:
            continue
        text = _text(address, where, at, optional=False, personal=True)
        pattern = {"email": _EMAIL, "sms": _PHONE}.get(channel)
        if pattern is not None and not pattern.match(text.strip()):
            example = "name@example.com" if channel == "email" else "+447700900123"
            raise where.error(f"not a valid {channel} address", at, f"write it like {example!r}",
                              value=Masked(address))
        addresses[channel] = text.strip()
    return addresses


def _consent(scope: str, value: Any, where: _Where, field: str) -> ConsentRecord:
    if isinstance(value, bool):
        return ConsentRecord(scope, value)
    if isinstance(value, Mapping) and isinstance(value.get("granted"), bool) and set(value) <= {
            "granted", "recorded_at"}:
        recorded = value.get("recorded_at")
        at = None if recorded is None else _timestamp(recorded, where, f"{field}.recorded_at")
        return ConsentRecord(scope, value["granted"], at)
    raise where.error("expected true or false", field,
                      'write true/false, or {"granted": true, "recorded_at": "2026-10-01T12:00:00Z"}', value=value)


def _consents(value: Any, where: _Where) -> tuple[ConsentRecord, ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise where.error("expected an object of consents", "consents",
                          'write {"personalization": true, ..., "channels": {"email": true}}', value=value)
    records = []
    for scope, answer in value.items():
        if scope == "channels":
            if not isinstance(answer, Mapping):
                raise where.error("expected an object", "consents.channels", 'write {"email": true, "sms": false}',
                                  value=answer)
            for channel, granted in answer.items():
                if channel not in CHANNELS:
                    raise where.error("unknown contact channel", f"consents.channels.{channel}",
                                      f"use one of {', '.join(CHANNELS)}")
                records.append(_consent(channel_scope(channel), granted, where, f"consents.channels.{channel}"))
            continue
        scope = str(scope)
        if scope not in KNOWN_SCOPES:
            close = did_you_mean(scope, KNOWN_SCOPES, cutoff=0.75)
            if close or not _SCOPE.match(scope):
                hint = f"; did you mean {close!r}?" if close else ""
                fix = f"rename it to {close!r}" if close else "name scopes in lowercase-with-dashes"
                raise where.error(f"unknown consent scope{hint}", f"consents.{scope}", fix)
        records.append(_consent(scope, answer, where, f"consents.{scope}"))
    return tuple(records)


def profile_from_record(record: Any, *, pseudonymize: Callable[[str], str], source: str | None = None,
                        line: int | None = None, strict_versions: bool = False) -> CustomerProfile:
    """Build a validated `CustomerProfile` from one record; the raw ``customer_id`` becomes a pseudonym.

    Owned versions are optional; ``strict_versions=True`` accepts PEP 440 versions only."""
    where = _Where(source, line)
    if not isinstance(record, Mapping):
        raise where.error("expected a JSON object per customer", None, "write one {...} object per line",
                          value=Masked(record))
    _check_keys(record, FIELDS, where, "")
    bad = unencodable_field(dict(record))
    if bad is not None:
        raise where.error("the text holds a lone UTF-16 surrogate (such as \\ud800), which UTF-8 cannot store", bad,
                          "write the character itself, or a valid surrogate pair")
    raw, given = record.get("customer_id"), record.get("pseudonym")
    if raw is not None and given is not None:
        raise where.error("both 'customer_id' and 'pseudonym' are given", "pseudonym",
                          "keep one: the raw 'customer_id' (pseudonymized on load) or a computed 'pseudonym'")
    if given is not None:
        if not is_pseudonym(given):
            raise where.error("not a pseudonym (64 lowercase hex characters)", "pseudonym",
                              "give the raw 'customer_id' instead and let kbrank pseudonymize it",
                              value=Masked(given))
        pseudonym = given
    else:
        if isinstance(raw, int) and not isinstance(raw, bool):
            raw = str(raw)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            raise where.error("missing customer id", "customer_id", "give every customer a non-empty 'customer_id'")
        text = _text(raw, where, "customer_id", optional=False, personal=True)
        try:
            pseudonym = pseudonymize(text)
        except ParameterError:
            raise where.error("cannot pseudonymize this id", "customer_id", "use a non-empty string id",
                              value=Masked(raw)) from None
    preferred = record.get("preferred_channel") or "none"
    if preferred not in PREFERRED_CHANNELS:
        raise where.error("unknown contact channel", "preferred_channel",
                          f"use one of {', '.join(PREFERRED_CHANNELS)}", value=preferred)
    locale = _text(record.get("locale"), where, "locale")
    if locale is not None and not _LOCALE.match(locale):
        raise where.error("not a BCP 47 language tag", "locale", "write tags such as 'en-GB' or 'de-DE'", value=locale)
    return CustomerProfile(
        id=pseudonym,
        region=_text(record.get("region"), where, "region"),
        locale=locale,
        segment=_text(record.get("segment"), where, "segment"),
        owned=_owned(_list(record.get("owned"), where, "owned"), where, strict_versions),
        usage=_usage(_list(record.get("usage"), where, "usage"), where),
        preferred_channel=preferred,
        addresses=_addresses(record.get("addresses"), where),
        consents=_consents(record.get("consents"), where),
    )


def _consent_value(record: ConsentRecord) -> Any:
    if record.recorded_at is None:
        return record.granted
    return {"granted": record.granted, "recorded_at": format_timestamp(record.recorded_at)}


def profile_to_record(profile: CustomerProfile) -> dict[str, Any]:
    """The JSON-ready record of a profile, keyed by ``pseudonym``; `profile_from_record` reads it back."""
    consents: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    for record in profile.consents:
        if record.scope.startswith("channel:"):
            channels[record.scope.split(":", 1)[1]] = _consent_value(record)
        else:
            consents[record.scope] = _consent_value(record)
    if channels:
        consents["channels"] = channels
    return {
        "pseudonym": profile.id, "region": profile.region, "locale": profile.locale, "segment": profile.segment,
        "owned": [{"product": o.product, "line": o.line, "version": o.version, "platform": o.platform,
                   "registered_at": o.registered_at.isoformat() if o.registered_at else None, "status": o.status}
                  for o in profile.owned],
        "usage": [{"product": u.product, "feature": u.feature, "timestamp": format_timestamp(u.timestamp),
                   "region": u.region, "count": u.count} for u in profile.usage],
        "preferred_channel": profile.preferred_channel,
        "addresses": dict(profile.addresses),
        "consents": consents,
    }
