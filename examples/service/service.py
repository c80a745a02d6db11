"""A small HTTP service over a loyalty store: orders, refunds, redemptions, holds, balances.

Each request is one account command, run by ``store.execute`` in one
transaction. The command id travels in the request body (``"id"``): a client
that timed out sends the same request again and gets the stored outcome; the
same id with another payload is refused (409, naming the first field that
differs). Money is sent as strings (``"12.50"``), never JSON numbers. A
refused command answers 4xx JSON naming the field; nothing is half-written.

Run it (the store comes from ``LOYALTY_STORE``, see ``open_store``)::

    LOYALTY_STORE=sqlite:////var/lib/loyalty/loyalty.db gunicorn --chdir examples/service \\
        --workers 2 --threads 4 'service:create_app()'
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from flask import Flask, request
from werkzeug.exceptions import HTTPException

from loyaltycore import errors, serialize
from loyaltycore.accounts import Account, Applied, Outcome, Program, Tender, example_program
from loyaltycore.predicates import Item
from loyaltycore.stores import SQLiteStore, Store

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

JSON = dict[str, Any]
Command = Callable[[Account], Applied]


# -- configuration: the one place that knows which database is behind the service --------


def sqlite_store(url: str, program: Program) -> Store:
    """``sqlite:///relative.db`` or ``sqlite:////absolute/path.db``: one file, no server."""
    path = url.removeprefix("sqlite:///")
    if path in ("", ":memory:"):  # (each thread has its own connection: they must share a file)
        raise errors.InvalidArgument(
            f"LOYALTY_STORE={url!r} must name a database file", field="LOYALTY_STORE"
        )
    return SQLiteStore(path, programs=program)


@functools.cache
def connection_pool(url: str) -> ConnectionPool:
    """One pool per process, shared by its threads (gunicorn makes it in each worker)."""
    from psycopg_pool import ConnectionPool

    return ConnectionPool(url, min_size=1, max_size=8, open=True)


def postgres_store(url: str, program: Program) -> Store:
    """``postgresql://user@host:port/dbname``: a connection from the pool per command."""
    from loyaltycore.stores import PostgresStore

    return PostgresStore(connection_pool(url), programs=program)


#: Which store a ``LOYALTY_STORE`` URL opens, by its scheme. Another database is one line.
STORES: dict[str, Callable[[str, Program], Store]] = {
    "sqlite": sqlite_store,
    "postgresql": postgres_store,
}


def open_store(url: str, program: Program) -> Store:
    """The store ``url`` names; a store object serves one thread at a time."""
    scheme, colon, _ = url.partition(":")
    if not colon or scheme not in STORES:
        raise errors.InvalidArgument(
            f"LOYALTY_STORE={url!r}: the scheme must be one of {[*STORES]}", field="LOYALTY_STORE"
        )
    return STORES[scheme](url, program)


# -- reading requests ------------------------------------------------------------------


def fields(body: object, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> JSON:
    """The JSON object's fields: every required one present, no unknown one (a typo)."""
    if not isinstance(body, dict):
        raise errors.InvalidType("the request body must be a JSON object", field=None)
    for name in required:
        if name not in body:
            raise errors.InvalidArgument(f"{name} is required", field=name)
    for name in body:
        if name not in required + optional:
            raise errors.InvalidArgument(f"{name} is not a field of this request", field=name)
    return dict(body)


def instant(body: JSON, name: str = "at") -> datetime:
    """An ISO 8601 time with its offset; ``at`` defaults to the server's clock."""
    if body.get(name) is None:
        return datetime.now(UTC)  # (the host reads the clock; the library never does)
    try:
        return datetime.fromisoformat(body[name])
    except (TypeError, ValueError):
        raise errors.InvalidTime(
            f"{name}={body[name]!r} must be an ISO 8601 time", field=name, value=body[name]
        ) from None


def each(body: JSON, name: str, build: type, *required: str) -> list[Any]:
    """``body[name]``: a list of objects, each built by ``build``; errors name the item."""
    items = body.get(name, [])
    if not isinstance(items, list):
        raise errors.InvalidType(f"{name} must be a list", field=name)
    built = []
    for i, data in enumerate(items):
        try:
            built.append(build(**fields(data, required, OPTIONAL[build])))
        except errors.LoyaltyError as exc:
            inner = getattr(exc, "field", None)
            where = f"{name}[{i}]" + (f".{inner}" if inner else "")
            raise type(exc)(f"{where}: {exc}", field=where) from None
    return built


#: The optional fields of each part of an order.
OPTIONAL = {Item: ("category", "discount"), Tender: ("points",)}


def arguments(body: object, *optional: str, required: tuple[str, ...] = ("id",)) -> JSON:
    """A command's keyword arguments: the request's fields, with ``at`` parsed."""
    kwargs = fields(body, required, ("at", *optional))
    kwargs["at"] = instant(kwargs)
    return kwargs


# -- the endpoints ---------------------------------------------------------------------


def create_app(url: str | None = None, program: Program | None = None) -> Flask:
    """The service over the store ``url`` names (default: the ``LOYALTY_STORE`` variable)."""
    url = os.environ.get("LOYALTY_STORE", "") if url is None else url
    program = program or example_program()  # (a real host loads its program document)
    open_store(url, program)  # (a bad URL fails now; the tables are made before any request)
    local = threading.local()
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # (answers read in field order)

    def store() -> Store:
        """This thread's store object (each holds its own connection)."""
        if not hasattr(local, "store"):
            local.store = open_store(url, program)
        return local.store  # type: ignore[no-any-return]

    def run(member: str, command: Command) -> tuple[JSON, int]:
        return answer(store().execute(member, command).outcome), 200

    def body() -> object:
        return request.get_json(silent=True)  # (None when it is not JSON)

    @app.post("/members/<member>")
    def open_account(member: str) -> tuple[JSON, int]:
        at = instant(fields(body() or {}, (), ("at",)))
        account = Account.open(member, program=program, at=at)
        try:
            store().create(account)
        except errors.InvalidArgument as exc:  # (refused only when the member has an account)
            return refused(exc)[0], 409
        return {"member": member}, 201

    @app.post("/members/<member>/orders")
    def order(member: str) -> tuple[JSON, int]:
        kw = arguments(
            body(), "lines", "tenders", "amount", "currency", "rate", "channel", "store"
        )
        kw["lines"] = each(kw, "lines", Item, "sku", "quantity", "unit_price")
        kw["tenders"] = each(kw, "tenders", Tender, "kind", "amount")
        return run(member, lambda a: a.order(**kw))

    @app.post("/members/<member>/refunds")
    def refund(member: str) -> tuple[JSON, int]:
        kw = arguments(body(), "items", "amount", required=("id", "of"))
        return run(member, lambda a: a.refund(**kw))

    @app.post("/members/<member>/redemptions")
    def redeem(member: str) -> tuple[JSON, int]:
        kw = arguments(body(), "reason", required=("id", "points"))
        return run(member, lambda a: a.redeem(**kw))

    @app.post("/members/<member>/holds")
    def hold(member: str) -> tuple[JSON, int]:
        kw = arguments(body(), required=("id", "points", "deadline"))
        kw["deadline"] = instant(kw, "deadline")  # (part of the payload: a retry sends the same)
        return run(member, lambda a: a.hold(**kw))

    @app.post("/members/<member>/holds/<hold>/capture")
    def capture(member: str, hold: str) -> tuple[JSON, int]:
        kw = arguments(body(), "points")
        return run(member, lambda a: a.capture(hold=hold, **kw))

    @app.post("/members/<member>/holds/<hold>/release")
    def release(member: str, hold: str) -> tuple[JSON, int]:
        kw = arguments(body())
        return run(member, lambda a: a.release(hold=hold, **kw))

    @app.get("/members/<member>/balance")
    def balance(member: str) -> JSON:
        return store().projection(member)._asdict()  # (finance's row: no account is loaded)

    @app.get("/members/<member>/commands/<id>")
    def stored(member: str, id: str) -> JSON:
        return answer(store().outcome(member, id))  # (did my timed-out request happen?)

    @app.errorhandler(errors.LoyaltyError)
    def refused(exc: errors.LoyaltyError) -> tuple[JSON, int]:
        field = getattr(exc, "field", None)
        return {"error": type(exc).__name__, "field": field, "message": str(exc)}, status(exc)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[JSON, int]:
        return {"error": exc.name, "field": None, "message": exc.description}, exc.code or 500

    return app


def answer(outcome: Outcome) -> JSON:
    """The outcome as stored, with every points figure (zeros included)."""
    figures = {name: getattr(outcome, name) for name in FIGURES}
    head = {"command": outcome.command, "id": outcome.id, "version": outcome.version}
    stored = cast(JSON, serialize.to_data(outcome)["data"])  # (the document's plain data)
    return {**head, **figures, **stored}


#: The points figures every answer carries (the stored outcome leaves zeros out).
FIGURES = ("earned", "redeemed", "clawed_back", "returned", "available", "pending", "held", "debt")


#: The HTTP status of a refused command, most specific first.
STATUS: Mapping[type[errors.LoyaltyError], int] = {
    errors.NotFound: 404,  # an unknown member, hold or order
    errors.IdempotencyConflict: 409,  # the id was used with another payload
    errors.ConcurrencyConflict: 409,  # other writers kept the account busy: send it again
    errors.DuplicateId: 409,  # an order id already used, older than the retry window
    errors.InsufficientPoints: 422,  # well-formed, refused by the account's state
    errors.HoldError: 422,
    errors.OverReversal: 422,
    errors.StrictPolicyViolation: 422,
}


def status(exc: errors.LoyaltyError) -> int:
    """409 for a conflict, 422 for a refusal by the account's state, 404, else 400 (bad input)."""
    return next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)
