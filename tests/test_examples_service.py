"""examples/service: the HTTP service over each store, through real requests on loopback.

A real server process (gunicorn, two worker processes of four threads) runs
the example on a free loopback port; the tests send it HTTP requests with
urllib and read its JSON. The server is stopped at the end, also when a
test fails.
"""

from __future__ import annotations

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
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyaltycore.accounts import Account, Applied, Tender, example_program
from loyaltycore.errors import InvalidArgument, LoyaltyError
from loyaltycore.predicates import Item
from tests.scripts import load_script

SERVICE = Path(__file__).parent.parent / "examples" / "service"
AT = "2024-05-02T09:00:00+00:00"
DEADLINE = "2024-05-02T10:00:00+00:00"
JSON = dict[str, Any]
BEANS = {"sku": "beans", "category": "retail", "quantity": 4, "unit_price": "12.50"}


def _sqlite(request: pytest.FixtureRequest, folder: Path) -> str:
    return f"sqlite:///{folder / 'loyalty.db'}"


def _postgres(request: pytest.FixtureRequest, folder: Path) -> str:
    server = request.getfixturevalue("postgres_server")  # (skipped, or failed on CI, without)
    server.create_database("service")
    return f"postgresql://postgres@127.0.0.1:{server.port}/service"


#: The stores the service is tested over: each gives the ``LOYALTY_STORE`` URL of a new store.
STORES: dict[str, Callable[[pytest.FixtureRequest, Path], str]] = {
    "sqlite": _sqlite,
    "postgresql": _postgres,
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
    """The server process on a free loopback port, and a client for it."""
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
    return proc, Client(f"http://127.0.0.1:{port}")


def _wait_until_it_answers(proc: subprocess.Popen[bytes], client: Client, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            client.get("/members/nobody/balance")
            return
        except OSError:
            time.sleep(0.1)
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
    log = folder / "server.log"
    proc, client = _start(STORES[request.param](request, folder), log)
    try:
        _wait_until_it_answers(proc, client, log)
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
    hold = {"id": "h-1", "at": AT, "points": 100, "deadline": DEADLINE}
    status, out = service.post(f"{base}/holds", hold)
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


def test_a_retry_past_the_accounts_window_is_answered_by_the_store(
    service: Client, member: str
) -> None:
    """The account keeps 7 days of outcomes; the store keeps them all."""
    order = {"id": "o-1", "at": AT, "lines": [BEANS]}
    first = service.post(f"/members/{member}/orders", order)
    later = "2024-05-12T09:00:00+00:00"
    service.post(f"/members/{member}/orders", {"id": "o-2", "at": later, "lines": [BEANS]})
    assert service.post(f"/members/{member}/orders", {**order, "at": later}) == first
    assert service.get(f"/members/{member}/balance")[1]["version"] == 3


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
    return load_script(SERVICE / "service.py", "loyalty_service_example")


@pytest.mark.parametrize(
    "url", ["", "sqlite", "sqlite:///", "sqlite:///:memory:", "mysql://db/loyalty"]
)
def test_a_store_url_it_cannot_open_is_refused_naming_the_setting(url: str) -> None:
    with pytest.raises(InvalidArgument, match="LOYALTY_STORE") as caught:
        _service_module().create_app(url)
    assert caught.value.field == "LOYALTY_STORE"


# -- the service answers what the account answers ---------------------------------------

STEP = st.one_of(
    st.tuples(st.just("order"), st.integers(1, 6), st.sampled_from([0, 100, 300, 700])),
    st.tuples(st.just("refund"), st.integers(0, 5), st.integers(1, 3)),
    st.tuples(st.just("redeem"), st.sampled_from([1, 50, 200, 600, 5000])),
    st.tuples(st.just("hold"), st.sampled_from([1, 100, 200, 5000])),
    st.tuples(st.just("capture"), st.integers(0, 3), st.sampled_from([0, 10, 100, 400])),
    st.tuples(st.just("release"), st.integers(0, 3)),
    st.tuples(st.just("retry"), st.integers(0, 11)),
)


def _request(
    step: tuple[Any, ...], n: int, orders: list[str], holds: list[str]
) -> tuple[str, JSON]:
    """The path and body of step ``n`` (without ``at``)."""
    kind, *args = step
    if kind == "order":
        quantity, points = args
        orders.append(f"o-{n}")
        card = f"{Decimal('12.50') * quantity - points // 100}"
        tenders = [{"kind": "card", "amount": card}]
        if points:
            tenders.append({"kind": "points", "amount": f"{points // 100}.00", "points": points})
        lines = [{**BEANS, "quantity": quantity}]
        return "orders", {"id": f"o-{n}", "lines": lines, "tenders": tenders}
    if kind == "refund":
        order, quantity = args
        of = orders[order % len(orders)] if order < 4 else "o-unknown"
        return "refunds", {"id": f"f-{n}", "of": of, "items": {"beans": quantity}}
    if kind == "redeem":
        return "redemptions", {"id": f"r-{n}", "points": args[0]}
    if kind == "hold":
        holds.append(f"h-{n}")
        return "holds", {"id": f"h-{n}", "points": args[0], "deadline": DEADLINE}
    hold = holds[args[0] % len(holds)] if holds and args[0] < 3 else "h-unknown"
    if kind == "capture":
        body = {"id": f"c-{n}", **({"points": args[1]} if args[1] else {})}
        return f"holds/{hold}/capture", body
    return f"holds/{hold}/release", {"id": f"x-{n}"}


def _direct(account: Account, path: str, body: JSON, at: datetime) -> Applied:
    """What the service runs for ``path`` and ``body``, called on the account itself."""
    kw = {**body, "at": at}
    if path == "orders":
        kw["lines"] = [Item(**line) for line in kw["lines"]]
        kw["tenders"] = [Tender(**tender) for tender in kw["tenders"]]
        return account.order(**kw)
    if path.startswith("holds/"):
        _, hold, action = path.split("/")
        return getattr(account, action)(hold=hold, **kw)  # type: ignore[no-any-return]
    if path == "holds":
        kw["deadline"] = datetime.fromisoformat(DEADLINE)
        return account.hold(**kw)
    return getattr(account, {"refunds": "refund", "redemptions": "redeem"}[path])(**kw)  # type: ignore[no-any-return]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(STEP, max_size=12).map(lambda steps: [("order", 4, 0), ("hold", 100), *steps])
)
def test_the_service_answers_what_the_account_answers(service: Client, steps: list[Any]) -> None:
    """Each request's answer (outcome, or error and field) is the account's own, retries too."""
    module = _service_module()
    name = f"p-{next(_members)}"
    service.post(f"/members/{name}", {"at": AT})
    account = Account.open(name, program=example_program(), at=datetime.fromisoformat(AT))
    sent: list[tuple[str, JSON]] = []
    orders: list[str] = []
    holds: list[str] = []
    for n, step in enumerate(steps):
        if step[0] == "retry":
            if not sent:
                continue
            path, body = sent[step[1] % len(sent)]
        else:
            path, body = _request(step, n, orders, holds)
            sent.append((path, body))
        at = datetime.fromisoformat(AT) + timedelta(minutes=n + 1)
        got = service.post(f"/members/{name}/{path}", {**body, "at": at.isoformat()})
        try:
            applied = _direct(account, path, body, at)
        except LoyaltyError as exc:
            field = getattr(exc, "field", None)
            want = (
                module.status(exc),
                {"error": type(exc).__name__, "field": field, "message": str(exc)},
            )
        else:
            account = applied.account
            want = (200, json.loads(json.dumps(module.answer(applied.outcome))))
        assert got == want, (path, body)
    assert service.get(f"/members/{name}/balance")[1]["available"] == account.balance().available
