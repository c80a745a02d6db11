"""loyaltycore's numpy engine against polars, measured in the same run.

Usage: ``python benchmarks/engines.py [--size tiny|full] [--rows N]`` (polars
comes from ``benchmarks/requirements.txt`` or the dev extra; without it the
reference lines say so).

* Summary: 10,000,000 transactions (``--rows``) of 1,000,000 customers with
  sparse 12-digit int64 ids, from numpy columns to per-customer facts. Ours:
  ``TransactionLog.from_arrays`` + ``summarize``. polars: a DataFrame of the
  same arrays and one lazy query computing the same facts (customer-day,
  then customer: first, previous, last, count, frequency, recency, T, total,
  monetary, median gap). Target: ratio (polars time / ours) >= 1.0.
* The same with text ids ("C000000042"): ratio reported.
* Monthly cohort counts (``cohort_retention``) against polars (first month
  per customer, distinct customer-months, counts by cohort and offset).
  Target >= 1.0.
* Scaling: the time at N rows over the time at N/10, for the summary and the
  cohorts: target <= 11.
* ``Summary.to_pandas()`` of a 1,000,000-customer summary: target <= 0.1 s.
* Reading a CSV of N rows into a log, as the report does (pyarrow when
  installed), against polars reading and parsing the same file: target <= 3x
  polars' time, and <= 100 bytes per row of resident memory on top of the
  interpreter (maxrss after the read minus maxrss before it).
* Reading the same transactions as a spreadsheet exports them: a UTF-8
  byte-order mark, CRLF line ends, a header of capitalised names with spaces
  (``Transaction Date,Customer ID,Store Name,Amount``), a store name column
  of quoted text holding commas and quotes, amounts as text with two
  decimals, and day-first local times (``31/12/2023 14:05:09``, read with
  ``at_format`` on ``tz="Europe/London"``; the times are written from UTC
  instants, so none falls in a DST gap). polars reads the three columns
  and parses them into the same types (text ids, UTC instants, two-decimal
  amounts). Ratio reported, with both readers' CPU time, and a check that
  both read the same row count, amount total, distinct customers and sum
  of instants.

Every measurement runs in a fresh subprocess, best of a few runs, timed by
both the wall clock and the process's CPU time. Comparisons with polars use
the wall clock (polars runs on every core, the numpy path on one); the
scaling ratios use CPU time, which other work on a shared machine does not
inflate the way it inflates wall time (memory traffic from other processes
still slows both).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

AS_OF = datetime(2024, 1, 1, tzinfo=UTC)
AS_OF_US = 1_704_067_200_000_000
START_US = 1_609_459_200_000_000  # 2021-01-01
DAY_US = 86_400_000_000
ROWS = {"full": 10_000_000, "tiny": 100_000}
REPEAT = {"full": 3, "tiny": 1}
SUMMARY_CUSTOMERS = 1_000_000


def make(rows: int, ids: str, customers: int | None = None, seed: int = 7) -> dict[str, Any]:
    """Transactions over three years: sparse 12-digit ids (or text), µs instants, cents."""
    rng = np.random.default_rng(seed)
    k = customers or max(rows // 10, 1)
    codes = rng.integers(0, k, rows)
    sparse = 100_000_000_000 + codes * 7_919_021 % 899_999_999_999
    customer: Any = sparse
    if ids == "str":
        customer = np.array([f"C{i:010d}" for i in range(k)], dtype=object)[codes]
    at = START_US + rng.integers(0, 3 * 365 * 86_400, rows) * 1_000_000
    return {"customer": customer, "at": at, "amount": rng.integers(100, 20_000, rows)}


def ours_summary(data: dict[str, Any]) -> int:
    from loyaltycore.transactions import TransactionLog, summarize

    log = TransactionLog.from_arrays(
        data["customer"], data["at"], data["amount"], minor_units=True
    )
    return len(summarize(log, as_of=AS_OF, unit="day"))


def polars_summary(data: dict[str, Any]) -> int:
    import polars as pl

    frame = pl.DataFrame(
        {"customer": data["customer"], "at": data["at"], "amount": data["amount"]}
    )
    per_day = (
        frame.lazy()
        .with_columns(day=pl.col("at") // DAY_US)
        .group_by("customer", "day")
        .agg(
            first=pl.col("at").min(),
            last=pl.col("at").max(),
            n=pl.len(),
            spend=pl.col("amount").sum(),
        )
        .sort("customer", "day")
    )
    same = pl.col("customer") == pl.col("customer").shift(1)
    steps = per_day.with_columns(
        gap=pl.when(same).then(pl.col("day") - pl.col("day").shift(1)),
        before=pl.when(same).then(pl.col("last").shift(1)),
    )
    facts = (
        steps.group_by("customer", maintain_order=True)
        .agg(
            first=pl.col("first").first(),
            previous=pl.col("before").last(),
            last=pl.col("last").last(),
            count=pl.col("n").sum(),
            days=pl.len(),
            total=pl.col("spend").sum(),
            first_spend=pl.col("spend").first(),
            first_day=pl.col("day").first(),
            last_day=pl.col("day").last(),
            median_gap=pl.col("gap").median(),
        )
        .with_columns(frequency=pl.col("days") - 1)
        .with_columns(
            recency=pl.col("last_day") - pl.col("first_day"),
            T=AS_OF_US // DAY_US - pl.col("first_day"),
            days_since_last=AS_OF_US // DAY_US - pl.col("last_day"),
            monetary=pl.when(pl.col("frequency") > 0)
            .then((pl.col("total") - pl.col("first_spend")) / pl.col("frequency") / 100)
            .otherwise(0.0),
            aov=pl.col("total") / pl.col("count") / 100,
        )
        .collect()
    )
    return facts.height


def ours_cohorts(data: dict[str, Any]) -> int:
    from loyaltycore.metrics import cohort_retention

    return int(
        cohort_retention(data["customer"], data["at"], period="month", as_of=AS_OF).size.sum()
    )


def polars_cohorts(data: dict[str, Any]) -> int:
    import polars as pl

    frame = pl.DataFrame({"customer": data["customer"], "at": data["at"]})
    stamp = pl.col("at").cast(pl.Datetime("us", "UTC"))
    months = (
        frame.lazy()
        .select("customer", month=stamp.dt.year().cast(pl.Int32) * 12 + stamp.dt.month())
        .unique()
    )
    cohort = months.group_by("customer").agg(cohort=pl.col("month").min())
    counts = (
        months.join(cohort, on="customer")
        .group_by("cohort", pl.col("month") - pl.col("cohort"))
        .agg(pl.len())
        .collect()
    )
    return int(counts["len"].sum())


def ours_to_pandas(data: dict[str, Any]) -> int:
    return len(data["summary"].to_pandas())


def ours_read(data: dict[str, Any]) -> int:
    from loyaltycore.transactions import TransactionLog

    return len(TransactionLog.from_csv(data["path"], at="timestamp"))


def polars_read(data: dict[str, Any]) -> int:
    import polars as pl

    frame = pl.read_csv(
        data["path"], schema_overrides={"customer_id": pl.String, "amount": pl.Decimal(18, 2)}
    )
    return frame.with_columns(pl.col("timestamp").str.to_datetime(time_zone="UTC")).height


SHEET_TZ = "Europe/London"
SHEET_FORMAT = "%d/%m/%Y %H:%M:%S"
SHEET_COLUMNS = ("Customer ID", "Transaction Date", "Amount")
STORES = (
    'Joe\'s "Best" Coffee, Main St',
    "Café Nord",
    "Beans & Co., Station Rd",
    'The "Daily" Grind',
    "Corner Shop",
)


def ours_sheet(data: dict[str, Any]) -> int:
    from loyaltycore.transactions import TransactionLog

    customer, at, amount = SHEET_COLUMNS
    log = TransactionLog.from_csv(
        data["path"],
        customer=customer,
        at=at,
        amount=amount,
        at_format=SHEET_FORMAT,
        tz=SHEET_TZ,
    )
    data["read"] = log
    return len(log)


def polars_sheet(data: dict[str, Any]) -> int:
    import polars as pl

    customer, at, amount = SHEET_COLUMNS
    frame = pl.read_csv(
        data["path"],
        columns=list(SHEET_COLUMNS),
        schema_overrides={customer: pl.String, at: pl.String, amount: pl.Decimal(18, 2)},
    ).with_columns(
        pl.col(at).str.to_datetime(SHEET_FORMAT, time_zone=SHEET_TZ, ambiguous="earliest")
    )
    data["read"] = frame
    return frame.height


def ours_totals(data: dict[str, Any]) -> list[int]:
    """Rows, amount in cents, distinct customers and the sum of instants in seconds."""
    log = data["read"]
    seconds = log.at // 1_000_000
    return [len(log), int(log.amount.sum()), log.n_customers, int(seconds.sum())]


def polars_totals(data: dict[str, Any]) -> list[int]:
    import polars as pl

    frame = data["read"]
    customer, at, amount = SHEET_COLUMNS
    cents = int(frame[amount].sum() * 100)
    seconds = int(frame.select(pl.col(at).dt.epoch("s").sum()).item())
    return [frame.height, cents, frame[customer].n_unique(), seconds]


#: What a read produced, computed after the timed runs (not part of the measurement).
TOTALS: dict[str, Callable[[dict[str, Any]], list[int]]] = {
    "ours_sheet": ours_totals,
    "polars_sheet": polars_totals,
}


OPERATIONS: dict[str, Callable[[dict[str, Any]], int]] = {
    "ours_summary": ours_summary,
    "polars_summary": polars_summary,
    "ours_cohorts": ours_cohorts,
    "polars_cohorts": polars_cohorts,
    "ours_to_pandas": ours_to_pandas,
    "ours_read": ours_read,
    "polars_read": polars_read,
    "ours_sheet": ours_sheet,
    "polars_sheet": polars_sheet,
}


def _data(op: str, rows: int, ids: str, path: str) -> dict[str, Any]:
    if op.endswith(("_read", "_sheet")):
        return {"path": path}
    if op == "ours_to_pandas":
        import pandas  # noqa: F401  (imports are not part of the measurement)

        from loyaltycore.transactions import TransactionLog, summarize

        data = make(2 * rows, "int", customers=rows)
        log = TransactionLog.from_arrays(
            data["customer"], data["at"], data["amount"], minor_units=True
        )
        return {"summary": summarize(log, as_of=AS_OF)}
    return make(rows, ids)


def peak_rss(reset: bool = False) -> int:
    """The process's peak resident memory (VmHWM), optionally reset to the current size first.

    ``ru_maxrss`` would not do: Linux carries it over from the parent across
    ``exec``, so a worker started by a big parent would show no growth.
    """
    if reset:
        Path("/proc/self/clear_refs").write_text("5")
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker(op: str, rows: int, ids: str, repeat: int, path: str) -> dict[str, Any]:
    data = _data(op, rows, ids, path)
    module = "polars" if op.startswith("polars") else "loyaltycore.transactions"
    __import__(module)
    if op in ("ours_read", "ours_sheet"):
        import pyarrow.csv  # noqa: F401  (the reader's imports are not measured)
    before = peak_rss(reset=True)
    best, cpu, result = float("inf"), float("inf"), 0
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = OPERATIONS[op](data)
        best = min(best, time.perf_counter() - started)
        cpu = min(cpu, time.process_time() - started_cpu)
    after = peak_rss()
    out: dict[str, Any] = {"seconds": best, "cpu": cpu, "result": result}
    out["rss_growth"] = after - before
    if op in TOTALS:
        out["totals"] = TOTALS[op](data)
    return out


def measure(op: str, rows: int, repeat: int, ids: str = "int", path: str = "") -> Any:
    command = [sys.executable, __file__, "--worker", op, "--rows", str(rows), "--ids", ids]
    command += ["--repeat", str(repeat), "--path", path]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode:
        return (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def write_csv(path: Path, data: dict[str, Any]) -> None:
    """The transactions as CSV text: ids, ISO-8601 UTC instants, amounts with two decimals."""
    stamps = np.datetime_as_string(data["at"].astype("datetime64[us]").astype("datetime64[s]"))
    with path.open("w", encoding="utf-8") as out:
        out.write("customer_id,timestamp,amount\n")
        rows = zip(data["customer"], stamps, data["amount"].tolist(), strict=True)
        out.writelines(f"{c},{t}Z,{a // 100}.{a % 100:02d}\n" for c, t, a in rows)


def sheet_walls(at_us: Any) -> Any:
    """UTC µs instants as wall times in ``SHEET_TZ`` (datetime64[s]), one zone lookup per hour.

    The zone's offset changes only on whole UTC hours, so the offset of an
    instant's hour is its own; a wall time made this way is never in a gap.
    """
    zone = ZoneInfo(SHEET_TZ)
    hours, inverse = np.unique(at_us // 3_600_000_000, return_inverse=True)
    offsets = np.array(
        [
            (datetime.fromtimestamp(hour * 3600, UTC).astimezone(zone).utcoffset() or timedelta())
            // timedelta(microseconds=1)
            for hour in hours.tolist()
        ],
        dtype=np.int64,
    )
    return (at_us + offsets[inverse]).astype("datetime64[us]").astype("datetime64[s]")


def _cell(text: str) -> str:
    """A CSV cell as a spreadsheet writes it: quoted, inner quotes doubled, when it must be."""
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def write_sheet(path: Path, data: dict[str, Any], seed: int = 11) -> None:
    """The transactions as a spreadsheet's "CSV UTF-8" export (see the module docstring)."""
    stamps = np.datetime_as_string(sheet_walls(data["at"]))
    stores = [_cell(name) for name in STORES]
    store = np.random.default_rng(seed).integers(0, len(stores), len(stamps)).tolist()
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        out.write("Transaction Date,Customer ID,Store Name,Amount\r\n")
        rows = zip(stamps, data["customer"], store, data["amount"].tolist(), strict=True)
        out.writelines(
            f"{t[8:10]}/{t[5:7]}/{t[:4]} {t[11:]},{c},{stores[s]},{a // 100}.{a % 100:02d}\r\n"
            for t, c, s, a in rows
        )


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def versus(title: str, ours: Any, theirs: Any, target: float | None) -> list[str]:
    lines = [title]
    if isinstance(ours, str):
        return [*lines, f"  loyaltycore failed: {ours}"]
    lines.append(f"  loyaltycore  {ours['seconds']:8.3f} s")
    if isinstance(theirs, str):
        return [*lines, f"  polars       skipped: {theirs}"]
    ratio = theirs["seconds"] / ours["seconds"]
    lines.append(f"  polars       {theirs['seconds']:8.3f} s")
    note = "(reported)" if target is None else f"(target >= {target}: {verdict(ratio >= target)})"
    lines.append(f"  ratio        {ratio:8.2f}x polars time / ours  {note}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=sorted(ROWS), default="full")
    parser.add_argument("--rows", type=int, default=0)
    parser.add_argument("--worker", choices=sorted(OPERATIONS))
    parser.add_argument("--ids", choices=["int", "str"], default="int")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--path", default="")
    args = parser.parse_args()
    if args.worker:
        result = worker(args.worker, args.rows, args.ids, args.repeat, args.path)
        print(json.dumps(result))
        return 0
    rows, repeat = args.rows or ROWS[args.size], REPEAT[args.size]
    small = rows // 10
    print(f"loyaltycore engines benchmark, {rows:,} rows, python {sys.version.split()[0]}")
    has_polars = subprocess.run([sys.executable, "-c", "import polars"], check=False).returncode
    skip = "polars not importable here" if has_polars else None

    def ref(op: str, n: int, ids: str = "int", path: str = "") -> Any:
        return skip or measure(op, n, repeat, ids, path)

    ours = {n: measure("ours_summary", n, repeat) for n in (small, rows)}
    for line in versus(
        f"summary, {rows:,} rows / {rows // 10:,} customers, sparse 12-digit int64 ids",
        ours[rows], ref("polars_summary", rows), 1.0,
    ):  # fmt: skip
        print(line, flush=True)
    text = measure("ours_summary", rows, repeat, "str")
    title = f"summary, {rows:,} rows, text ids"
    for line in versus(title, text, ref("polars_summary", rows, "str"), None):
        print(line, flush=True)
    cohorts = {n: measure("ours_cohorts", n, repeat) for n in (small, rows)}
    title = f"monthly cohort counts, {rows:,} rows"
    for line in versus(title, cohorts[rows], ref("polars_cohorts", rows), 1.0):
        print(line, flush=True)
    print(f"scaling {rows:,} rows / {small:,} rows, CPU time (target <= 11)")
    for name, runs in (("summary", ours), ("cohorts", cohorts)):
        if isinstance(runs[rows], str) or isinstance(runs[small], str):
            print(f"  {name:12} failed")
            continue
        factor = runs[rows]["cpu"] / runs[small]["cpu"]
        wall = runs[rows]["seconds"] / runs[small]["seconds"]
        print(
            f"  {name:12} {factor:8.2f}  ({verdict(factor <= 11)}; "
            f"{runs[small]['cpu']:.3f} s -> {runs[rows]['cpu']:.3f} s; wall clock {wall:.2f})"
        )
    customers = SUMMARY_CUSTOMERS if args.size == "full" else small
    frame = measure("ours_to_pandas", customers, repeat)
    if isinstance(frame, str):
        print(f"Summary.to_pandas(): failed: {frame}")
    else:
        seconds = frame["seconds"]
        target = verdict(seconds <= 0.1) if args.size == "full" else "reported"
        print(
            f"Summary.to_pandas(), {customers:,} customers: {seconds:.3f} s "
            f"(target <= 0.1 s: {target})"
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "transactions.csv"
        write_csv(path, make(rows, "str"))
        read = measure("ours_read", rows, repeat, path=str(path))
        theirs = ref("polars_read", rows, path=str(path))
        for line in versus(f"read a CSV of {rows:,} rows into a log", read, theirs, None):
            print(line, flush=True)
        if not isinstance(read, str):
            if not isinstance(theirs, str):
                times = read["seconds"] / theirs["seconds"]
                print(f"  ours / polars {times:7.2f}x  (target <= 3: {verdict(times <= 3)})")
            per_row = read["rss_growth"] / rows
            ok = verdict(per_row <= 100)
            print(f"  memory       {per_row:8.1f} bytes per row of peak RSS (target <= 100: {ok})")
        path.unlink()
        sheet = Path(tmp) / "export.csv"
        write_sheet(sheet, make(rows, "str"))
        ours = measure("ours_sheet", rows, repeat, path=str(sheet))
        theirs = ref("polars_sheet", rows, path=str(sheet))
        title = f"read a spreadsheet export of {rows:,} rows (BOM, CRLF, quoted text, dd/mm/yyyy)"
        for line in versus(title, ours, theirs, None):
            print(line, flush=True)
        if not isinstance(ours, str) and not isinstance(theirs, str):
            print(f"  CPU time     {ours['cpu']:8.3f} s ours, {theirs['cpu']:.3f} s polars")
            same = ours["totals"] == theirs["totals"]
            n, cents, customers, seconds = ours["totals"]
            print(
                f"  same totals  {verdict(same)}: {n:,} rows, amount {cents // 100:,}."
                f"{cents % 100:02d}, {customers:,} customers, instants sum {seconds:,} s"
            )
            if not same:
                print(f"  polars read  {theirs['totals']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
