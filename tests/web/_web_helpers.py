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


# -- a real `kbrank serve` in a subprocess ----------------------------------------------------------------------
import contextlib  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402
from pathlib import Path  # noqa: E402

SRC = Path(__file__).resolve().parents[2] / "src"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def kbrank_command() -> list[str]:
    """`kbrank` as installed beside this Python, else the same entry point through ``python -c``."""
    script = Path(sys.executable).with_name("kbrank")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from kbrank.cli import main; sys.exit(main())"]


@contextlib.contextmanager
def serving(args: list[str], log: Path, *, timeout: float = 600.0):
    """Run ``kbrank serve ARGS --port P`` until the page answers; yield its base URL; stop it after.

    The checkout's sources come first on PYTHONPATH, so this tests the tree under test, not an older install.
    A server that exits early or never answers fails the test with its log."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    with open(log, "wb") as out:
        process = subprocess.Popen([*kbrank_command(), "serve", *args, "--port", str(port)], stdout=out,
                                   stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise AssertionError(f"kbrank serve exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(base + "/openapi.json", timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"kbrank serve did not answer in {timeout:.0f} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
