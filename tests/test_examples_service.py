"""examples/service: the HTTP service over each store, through real requests on loopback.

A real server process (gunicorn, two worker processes of four threads) runs
the example on a free loopback port; the tests send it HTTP requests with
urllib and read its JSON. The server is stopped at the end, also when a
test fails.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from loyaltycore.errors import InvalidArgument

SERVICE = Path(__file__).parent.parent / "examples" / "service"
AT = "2024-05-02T09:00:00+00:00"
BEANS = {"sku": "beans", "category": "retail", "quantity": 4, "unit_price": "12.50"}

#: The stores the service is tested over: a name and the ``LOYALTY_STORE`` URL for a folder.
STORES: dict[str, Callable[[Path], str]] = {
    "sqlite": lambda folder: f"sqlite:///{folder / 'loyalty.db'}",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Client:
    """JSON over HTTP to the server at ``base``."""

    def __init__(self, base: str) -> None:
        self.base = base

    def send(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> Any:
        """``(status, JSON body)`` of one request."""
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                text = exc.read().decode()
            assert "Traceback" not in text
            return exc.code, json.loads(text)

    def post(self, path: str, body: Any = None) -> Any:
        return self.send("POST", path, body)

    def get(self, path: str) -> Any:
        return self.send("GET", path)


def _start(url: str, log: Path) -> tuple[subprocess.Popen[bytes], Client]:
    port = _free_port()
    command = [
        sys.executable, "-m", "gunicorn", "--chdir", str(SERVICE), "--no-control-socket",
        "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
        "service:create_app()",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, env={**os.environ, "LOYALTY_STORE": url}, stdout=out, stderr=out
        )
    client = Client(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            client.get("/members/nobody/balance")
            return proc, client
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"the service did not answer within 20 s:\n{log.read_text()}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module", params=list(STORES))
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Client]:
    """One server per store for the module; stopped at the end, also on failure."""
    folder = tmp_path_factory.mktemp(f"service-{request.param}")
    proc, client = _start(STORES[request.param](folder), folder / "server.log")
    try:
        yield client
    finally:
        _stop(proc)


_members = iter(range(10**6))


@pytest.fixture
def member(service: Client) -> str:
    """A new member with an account opened at ``AT``."""
    name = f"m-{next(_members)}"
    assert service.post(f"/members/{name}", {"at": AT}) == (201, {"member": name})
    return name


def test_order_refund_redeem_hold_capture_and_balance(service: Client, member: str) -> None:
    base = f"/members/{member}"
    status, out = service.post(f"{base}/orders", {"id": "o-1", "at": AT, "lines": [BEANS]})
    assert (status, out["command"], out["earned"], out["available"]) == (200, "order", 500, 500)
    status, out = service.post(
        f"{base}/refunds", {"id": "f-1", "at": AT, "of": "o-1", "items": {"beans": 1}}
    )
    assert (status, out["clawed_back"], out["available"]) == (200, 125, 375)
    status, out = service.post(f"{base}/redemptions", {"id": "r-1", "at": AT, "points": 100})
    assert (status, out["redeemed"], out["available"]) == (200, 100, 275)
    status, out = service.post(f"{base}/holds", {"id": "h-1", "at": AT, "points": 100})
    assert (status, out["held"], out["available"]) == (200, 100, 175)
    status, out = service.post(f"{base}/holds/h-1/capture", {"id": "c-1", "at": AT, "points": 80})
    assert (status, out["redeemed"], out["held"], out["available"]) == (200, 80, 0, 195)
    status, row = service.get(f"{base}/balance")
    assert status == 200
    assert (row["member"], row["version"], row["available"], row["held"]) == (member, 6, 195, 0)


def test_a_retried_order_returns_the_identical_outcome(service: Client, member: str) -> None:
    order = {"id": "o-1", "at": AT, "lines": [BEANS]}
    first = service.post(f"/members/{member}/orders", order)
    later = {**order, "at": "2024-05-02T09:00:30+00:00"}  # (the client's retry, 30 s later)
    assert service.post(f"/members/{member}/orders", later) == first
    assert service.post(f"/members/{member}/orders", order) == first
    assert first[0] == 200
    assert service.get(f"/members/{member}/balance")[1]["version"] == 2  # applied once
    assert service.get(f"/members/{member}/commands/o-1") == first
    assert service.get(f"/members/{member}/commands/o-9")[0] == 404


def test_another_payload_under_the_same_id_is_a_conflict(service: Client, member: str) -> None:
    service.post(f"/members/{member}/orders", {"id": "o-1", "at": AT, "lines": [BEANS]})
    other = {**BEANS, "quantity": 5}
    status, out = service.post(
        f"/members/{member}/orders", {"id": "o-1", "at": AT, "lines": [other]}
    )
    assert (status, out["error"], out["field"]) == (
        409,
        "IdempotencyConflict",
        "lines[0].quantity",
    )
    assert "quantity=4, not 5" in out["message"]


FLOAT, NONE = {**BEANS, "unit_price": 12.5}, {**BEANS, "quantity": 0}
BAD = [
    # (path, body, status, error, field)
    ("orders", {"id": "o", "lines": [FLOAT]}, 400, "InvalidType", "lines[0].unit_price"),
    ("orders", {"id": "o", "lines": [NONE]}, 400, "InvalidArgument", "lines[0].quantity"),
    ("orders", {"id": "o", "lines": [{"sku": "b"}]}, 400, "InvalidArgument", "lines[0].quantity"),
    ("orders", {"id": "o", "lines": "beans"}, 400, "InvalidType", "lines"),
    ("orders", {"id": "o", "amount": "-1"}, 400, "InvalidAmount", "amount"),
    ("orders", {"lines": [BEANS]}, 400, "InvalidArgument", "id"),
    ("orders", {"id": "o", "at": "2024-05-02T09:00:00"}, 400, "NaiveDatetime", "at"),
    ("orders", {"id": "o", "at": "yesterday"}, 400, "InvalidTime", "at"),
    ("orders", {"id": "o", "colour": "red"}, 400, "InvalidArgument", "colour"),
    ("orders", [1, 2], 400, "InvalidType", None),
    ("redemptions", {"id": "r", "points": "100"}, 400, "InvalidType", "points"),
    ("redemptions", {"id": "r", "points": -5}, 400, "InvalidPoints", "points"),
    ("redemptions", {"id": "r", "at": AT, "points": 100}, 422, "InsufficientPoints", "points"),
    ("holds/h-9/capture", {"id": "c", "at": AT}, 404, "UnknownHold", "hold"),
    ("refunds", {"id": "f", "at": AT}, 400, "InvalidArgument", "of"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "status", "error", "field"), BAD)
def test_a_bad_request_is_refused_naming_the_field(
    service: Client, member: str, path: str, body: Any, status: int, error: str, field: str | None
) -> None:
    got, out = service.post(f"/members/{member}/{path}", body)
    assert (got, out["error"], out["field"]) == (status, error, field)
    assert out["message"]
    assert service.get(f"/members/{member}/balance")[1]["version"] == 1  # nothing written


def test_requests_that_are_not_commands(service: Client, member: str) -> None:
    assert service.send("POST", f"/members/{member}/orders", raw=b"{not json")[0] == 400
    assert service.get("/members/nobody/balance")[1]["field"] == "member"
    assert service.get("/members/nobody/balance")[0] == 404
    status, out = service.post(f"/members/{member}", {"at": AT})
    assert (status, out["field"]) == (409, "member")
    assert service.get("/nowhere")[0] == 404


CHECKOUT = {
    "at": AT,
    "lines": [{"sku": "latte", "category": "drinks", "quantity": 1, "unit_price": "4.50"}],
    "tenders": [
        {"kind": "points", "amount": "3.00", "points": 300},
        {"kind": "card", "amount": "1.50"},
    ],
}


@pytest.mark.parametrize("attempt", range(4))
def test_two_concurrent_checkouts_never_double_spend(
    service: Client, member: str, attempt: int
) -> None:
    """Two checkouts pay 300 points each from 500 at once: one is applied, one refused."""
    service.post(f"/members/{member}/orders", {"id": "o-1", "at": AT, "lines": [BEANS]})
    start = threading.Barrier(2)
    results: dict[str, Any] = {}

    def checkout(cid: str) -> None:
        start.wait()
        results[cid] = service.post(f"/members/{member}/orders", {"id": cid, **CHECKOUT})

    threads = [threading.Thread(target=checkout, args=(f"c-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(status for status, _ in results.values())
    assert statuses == [200, 422], results
    refused = next(out for status, out in results.values() if status == 422)
    assert (refused["error"], refused["field"]) == ("InsufficientPoints", "points")
    applied = next(out for status, out in results.values() if status == 200)
    assert (applied["redeemed"], applied["earned"]) == (300, 15)
    row = service.get(f"/members/{member}/balance")[1]
    assert (row["available"], row["version"]) == (500 - 300 + 15, 3)


def _service_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "loyalty_service_example", SERVICE / "service.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "url", ["", "sqlite", "sqlite:///", "sqlite:///:memory:", "mysql://db/loyalty"]
)
def test_a_store_url_it_cannot_open_is_refused_naming_the_setting(url: str) -> None:
    with pytest.raises(InvalidArgument, match="LOYALTY_STORE") as caught:
        _service_module().create_app(url)
    assert caught.value.field == "LOYALTY_STORE"
