"""The tables of an account store, in SQL any store can take over.

The member id leads every key, so the tables can later be distributed by
member (Citus distributes by the first key column). Bodies are the
versioned plain-data documents of ``loyaltycore.accounts`` as JSON text.

Forward migrations are lists of statements per schema version; a store at
version ``v`` runs the lists of ``v + 1`` onwards in one transaction and
records the new version in ``loyalty_schema``.
"""

from __future__ import annotations

from typing import Final

from loyaltycore.errors import InvalidArgument

#: The schema version this release writes.
SCHEMA_VERSION: Final = 1

_V1: Final = (
    "CREATE TABLE loyalty_schema (version INTEGER NOT NULL)",
    # one row per account: the version a writer must find (optimistic concurrency)
    "CREATE TABLE loyalty_accounts ("
    " member TEXT PRIMARY KEY, version INTEGER NOT NULL,"
    " program_id TEXT NOT NULL, program_version INTEGER NOT NULL, merged_into TEXT)",
    # the append-only history: one row per account event
    "CREATE TABLE loyalty_events ("
    " member TEXT NOT NULL, version INTEGER NOT NULL, command TEXT NOT NULL,"
    " command_id TEXT NOT NULL, at TEXT NOT NULL, body TEXT NOT NULL,"
    " PRIMARY KEY (member, version))",
    # each command's outcome by its id (the latest use of an id)
    "CREATE TABLE loyalty_outcomes ("
    " member TEXT NOT NULL, command_id TEXT NOT NULL, version INTEGER NOT NULL,"
    " payload TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (member, command_id))",
    # a cache: the state at some version (any row may be dropped)
    "CREATE TABLE loyalty_snapshots ("
    " member TEXT PRIMARY KEY, version INTEGER NOT NULL, schema TEXT NOT NULL,"
    " schema_version INTEGER NOT NULL, program_id TEXT NOT NULL,"
    " program_version INTEGER NOT NULL, body TEXT NOT NULL)",
    # what finance reads with plain SQL, written with every command
    "CREATE TABLE loyalty_projections ("
    " member TEXT PRIMARY KEY, version INTEGER NOT NULL, available INTEGER NOT NULL,"
    " pending INTEGER NOT NULL, held INTEGER NOT NULL, debt INTEGER NOT NULL,"
    " tier TEXT NOT NULL, tier_valid_until TEXT, program_id TEXT NOT NULL,"
    " program_version INTEGER NOT NULL, merged_into TEXT)",
    "CREATE TABLE loyalty_lots ("
    " member TEXT NOT NULL, lot TEXT NOT NULL, remaining INTEGER NOT NULL,"
    " pending INTEGER NOT NULL, expires_at TEXT, source TEXT NOT NULL,"
    " PRIMARY KEY (member, lot))",
    # events to publish and commands for other members, in commit order per member
    "CREATE TABLE loyalty_outbox ("
    " member TEXT NOT NULL, version INTEGER NOT NULL, part INTEGER NOT NULL,"
    " id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, target TEXT, at TEXT NOT NULL,"
    " body TEXT NOT NULL, published INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (member, version, part))",
    "CREATE INDEX loyalty_outbox_pending ON loyalty_outbox (published, at, member, version, part)",
    # program-wide budgets: one shared counter per budget
    "CREATE TABLE loyalty_budgets (budget TEXT PRIMARY KEY, used INTEGER NOT NULL)",
    # personal data, apart from everything else (erase drops the row)
    "CREATE TABLE loyalty_profiles (member TEXT PRIMARY KEY, body TEXT NOT NULL)",
    "INSERT INTO loyalty_schema (version) VALUES (1)",
)

#: Statements per schema version; version 1 creates everything.
MIGRATIONS: Final[dict[int, tuple[str, ...]]] = {1: _V1}

_TYPES: Final = {"sqlite": {}, "postgresql": {"INTEGER": "BIGINT"}}


def statements(dialect: str, start: int = 0) -> tuple[str, ...]:
    """The statements taking a schema from version ``start`` to the current one."""
    if dialect not in _TYPES:
        raise InvalidArgument(
            f"dialect={dialect!r} must be one of {sorted(_TYPES)}", field="dialect", value=dialect
        )
    out: list[str] = []
    for version in range(start + 1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS[version]:
            for word, other in _TYPES[dialect].items():
                statement = (
                    statement.replace(f" {word} ", f" {other} ")
                    .replace(f" {word},", f" {other},")
                    .replace(f" {word})", f" {other})")
                )
            out.append(statement)
    return tuple(out)


def ddl(dialect: str = "sqlite") -> str:
    """The table definitions of the current schema, as one SQL script.

    Hosts that own their migrations (Alembic, Flyway) can take this text;
    the member id leads every key.

    >>> print(ddl("postgresql").splitlines()[1])
    CREATE TABLE loyalty_accounts ( member TEXT PRIMARY KEY, version BIGINT NOT NULL, ...
    """
    return "\n".join(s + ";" for s in statements(dialect))


#: The text columns ``erase`` rewrites, with each table's key.
ERASABLE: Final = (
    (("loyalty_events", "body"), ("member", "version")),
    (("loyalty_outcomes", "body"), ("member", "command_id")),
    (("loyalty_outcomes", "payload"), ("member", "command_id")),
    (("loyalty_snapshots", "body"), ("member",)),
    (("loyalty_outbox", "body"), ("member", "version", "part")),
)


def erasable_reads(mark: str) -> tuple[tuple[str, str], ...]:
    """``(table.column, query)`` reading each erasable column of one member, keys first.

    ``mark`` is the driver's parameter placeholder (``?`` or ``%s``).
    """
    return tuple(
        (
            f"{name}.{column}",
            f"SELECT {', '.join(key)}, {column} FROM {name} WHERE member = {mark}",
        )
        for (name, column), key in ERASABLE
    )


def erasable_write(table: str, mark: str) -> str:
    """The UPDATE rewriting one erasable ``table.column`` value by its row's key."""
    name, column = table.split(".")
    where = " AND ".join(f"{c} = {mark}" for c in dict(ERASABLE)[(name, column)])
    return f"UPDATE {name} SET {column} = {mark} WHERE {where}"
