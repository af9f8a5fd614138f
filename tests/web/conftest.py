"""The web tests share one demo site built in BM25 mode (about 10 s; the dense model is exercised by the
browser test, which starts the real `kbrank serve`) and a FastAPI TestClient over it."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")


@pytest.fixture(scope="session")
def helpcentre():
    from kbrank.datasets import load_helpcentre

    return load_helpcentre()


@pytest.fixture(scope="session")
def site():
    from kbrank.web import demo_site

    built = demo_site(mode="bm25")
    yield built
    built.gateway.close()


@pytest.fixture(scope="session")
def client(site):
    from fastapi.testclient import TestClient

    from kbrank.web import create_app

    with TestClient(create_app(site), raise_server_exceptions=False) as test_client:
        yield test_client
