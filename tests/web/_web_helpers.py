"""Reference helpers for the web tests: read the generator's raw records, never the page's gateway."""

from __future__ import annotations


def owned_products(helpcentre, customer_id: str) -> set[str]:
    """What the customer owns, from the generator's raw records (the test's reference, not the gateway)."""
    return {o["product"] for o in helpcentre.customer(customer_id)["owned"]}


def applies(helpcentre, article_id: str, owned: set[str]) -> bool:
    products = helpcentre.corpus.get(article_id).products
    return not products or bool(set(products) & owned)


def first_customer(helpcentre, **consents: bool) -> str:
    for customer in helpcentre.customers:
        if all(customer["consents"][name.replace("_", "-")] == value for name, value in consents.items()):
            return customer["customer_id"]
    raise AssertionError(f"no demo customer with consents {consents}")
