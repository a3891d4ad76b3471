"""The books' reads: the statements read from a month's ``balances`` files (DuckDB
scans them as it aggregates) are those of the same rows as one frame, whatever the
files' order, columns and sizes; a scan of a year of files gives each row its own
file's day."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flexbatch.books.frames import BALANCES, Credits
from flexbatch.books.statements import compute_statements

MONEY = [c for c, t in BALANCES.items() if t == Credits]


def write_day_files(root, table: str, day: date, frames: list[pl.DataFrame]) -> None:
    folder = root / table / f"date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    for n, frame in enumerate(frames):
        frame.write_parquet(folder / f"run-{n}.parquet")


def test_statements_from_files_keep_legacy_days(tmp_path):
    # 1 September written before the grant lifecycle (no voided column), 2 September
    # after: the legacy day's voided counts as nothing, as a diagonal concat of the days
    # (null) and conformed (0 when no day has it) say
    from flexbatch.books.ledger_files import balance_files
    from flexbatch.storage.stores import LocalStore

    frames = {}
    for day, voided in ((date(2026, 9, 1), None), (date(2026, 9, 2), Decimal("0.25"))):
        row = {"account_id": "a", "currency": "fc", "opening": Decimal(1), "granted": Decimal(2),
               "consumed": Decimal("0.5"), "available": Decimal("2.5"), "extra": "x"}  # fmt: skip
        frame = pl.DataFrame([row]).with_columns(pl.col(Decimal).cast(Credits))
        if voided is not None:
            frame = frame.with_columns(pl.lit(voided).cast(Credits).alias("voided"))
        for table in ("usage_daily", "balances"):  # a processed day has usage_daily
            write_day_files(tmp_path, table, day, [frame])
        frames[day] = frame.with_columns(pl.lit(day).alias("date"))
    store = LocalStore(tmp_path)
    got = compute_statements(balance_files(store, [date(2026, 9, 1)]), None, "r")
    assert got["voided"].to_list() == [Decimal("0.25")]  # by hand: the one day's
    assert got["first_day"].to_list() == [date(2026, 9, 1)]
    assert got["last_day"].to_list() == [date(2026, 9, 2)]
    assert got["opening"].to_list() == [Decimal(1)]  # the first day's
    assert got["granted"].to_list() == [Decimal(4)]
    per_file = pl.concat(list(frames.values()), how="diagonal_relaxed")
    assert got.equals(compute_statements(per_file, None, "r"))
    # only the legacy day: no file has voided, which is 0
    legacy = compute_statements(balance_files(store, [date(2026, 9, 1)], [date(2026, 9, 1)]),
                                None, "r")  # fmt: skip
    assert legacy["voided"].to_list() == [Decimal(0)]
    assert legacy.equals(compute_statements(frames[date(2026, 9, 1)], None, "r"))
    assert balance_files(store, [date(2026, 10, 1)]) is None  # a month without days


# a day: its number of files and its rows (one per account and currency, as balances
# has), each in the file its number picks (modulo the files: some files stay empty)
KEY = st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["fc", "gc"]))
AMOUNTS = st.fixed_dictionaries({c: st.integers(-5_000_000, 5_000_000) for c in MONEY})
DAY = st.tuples(st.integers(1, 3), st.dictionaries(KEY, st.tuples(st.integers(0, 2), AMOUNTS)))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(DAY, min_size=1, max_size=6),
    st.integers(0, 60),
    st.sampled_from(["all", "none", "some"]),
    st.randoms(use_true_random=False),
)
def test_statements_from_files_equal_those_of_the_frame(tmp_path_factory, days, start, voided, rnd):
    # days (some spanning a month end) of one or more files, some empty, each with its
    # columns in a shuffled order and an extra one, with voided in all, none or some
    # files, written in a shuffled order under a root that itself looks like a
    # partition: the statements of the files are those of the rows as one frame with
    # their days
    from flexbatch.books.ledger_files import balance_files
    from flexbatch.storage.stores import LocalStore

    root = tmp_path_factory.mktemp("x=1") / "out"
    first = date(2026, 8, 20) + timedelta(days=start)
    schema = {"account_id": pl.String, "currency": pl.String, **dict.fromkeys(MONEY, Credits)}
    written = []
    for i, (n_files, rows) in enumerate(days):
        day = first + timedelta(days=i)
        for n in range(n_files):
            money = [
                {"account_id": account, "currency": currency,
                 **{c: Decimal(amounts[c]).scaleb(-6) for c in MONEY}}
                for (account, currency), (pick, amounts) in rows.items()
                if pick % n_files == n
            ]  # fmt: skip
            frame = pl.DataFrame(money, schema=schema).with_columns(pl.lit(n).alias("extra"))
            if voided == "none" or (voided == "some" and rnd.random() < 0.5):
                frame = frame.drop("voided")
            columns = frame.columns
            rnd.shuffle(columns)
            written.append((day, n, frame.select(columns)))
    rnd.shuffle(written)
    for day, n, frame in written:
        folder = root / "balances" / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(folder / f"run-{n}.parquet")
    processed = sorted({day for day, _, _ in written})
    months = sorted({d.replace(day=1) for d in processed})
    files = balance_files(LocalStore(root), months, processed)
    rows = pl.concat(
        [frame.with_columns(pl.lit(day).alias("date")) for day, _, frame in written],
        how="diagonal_relaxed",
    )
    expected = compute_statements(rows, None, "r")
    got = compute_statements(files, None, "r")
    assert got.equals(expected)
    # by hand: each statement's flows are its rows' sums, its days its rows' extremes
    for flow in ("granted", "consumed", "overdraft"):
        assert got[flow].sum() == rows[flow].sum()
    assert (
        got.height
        == rows.select("account_id", "currency", pl.col("date").dt.month_start()).n_unique()
    )
    if voided == "none":
        assert got["voided"].to_list() == [Decimal(0)] * got.height


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.lists(st.integers(0, 4), min_size=1, max_size=3), min_size=1, max_size=5),
    st.randoms(use_true_random=False),
)
def test_each_row_gets_its_files_day(tmp_path_factory, day_files, rnd):
    # days of one or more files (some empty), written in a shuffled order under a root
    # whose own path looks like a partition: every row's date is its file's, as a read
    # per file with the day added says
    from flexbatch.storage.partitions import read_partitions, table_files
    from flexbatch.storage.stores import LocalStore

    root = tmp_path_factory.mktemp("x=1") / "out"
    written = [(date(2026, 1, 1 + i), n, rows) for i, sizes in enumerate(day_files)
               for n, rows in enumerate(sizes)]  # fmt: skip
    rnd.shuffle(written)
    expected = []
    for k, (day, n, rows) in enumerate(written):
        folder = root / "runs" / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        frame = pl.DataFrame(
            {"run_id": [f"{k}:{r}" for r in range(rows)]}, schema={"run_id": pl.String}
        )
        frame.write_parquet(folder / f"run-{n}.parquet")
        expected.append((f"{day}/run-{n}", frame.with_columns(pl.lit(day).alias("date"))))
    store = LocalStore(root)
    got = read_partitions(store, table_files(store, "runs"), {"run_id": pl.String})
    by_file = pl.concat([frame for _, frame in sorted(expected, key=lambda e: e[0])])
    assert got.equals(by_file)


CORRECTION = st.tuples(
    st.sampled_from(["a", "b", "z"]), st.sampled_from(["fc", "gc"]), st.integers(-9_000, 9_000)
)


def corrections_frame(rows: list[tuple[str, str, int]], month: date) -> pl.DataFrame | None:
    from flexbatch.books.statements import CORRECTION_SUMS

    if not rows:
        return None
    deltas = {c: Decimal(0) for c, t in CORRECTION_SUMS.items() if t == Credits}
    return pl.DataFrame(
        [{"booked_month": month, "closed_month": date(2026, 7, 1), "account_id": a,
          "currency": c, **deltas, "consumed_delta": Decimal(n).scaleb(-6),
          "available_delta": Decimal(-n).scaleb(-6)} for a, c, n in rows],
        schema=CORRECTION_SUMS,
    )  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.dictionaries(KEY, AMOUNTS), min_size=1, max_size=8),
    st.integers(0, 60),
    st.lists(st.booleans(), min_size=8, max_size=8),
    st.lists(CORRECTION, max_size=4),
    st.lists(CORRECTION, max_size=4),
)
def test_statements_merged_into_the_month_so_far_are_those_of_every_day(
    days, start, published, corrections_then, corrections_now
):
    # the days (spanning a month end when ``start`` says) split into those the published
    # statements were computed from and the others, in any interleaving; the published
    # statements carry other corrections (accounts with corrections only among them:
    # "z"): merged with the other days' rows, they are the statements of every day
    first = date(2026, 8, 20) + timedelta(days=start)
    rows = [
        {"account_id": account, "currency": currency, "date": first + timedelta(days=i),
         **{c: Decimal(amounts[c]).scaleb(-6) for c in MONEY}}
        for i, day in enumerate(days) for (account, currency), amounts in day.items()
    ]  # fmt: skip
    frame = pl.DataFrame(rows, schema=BALANCES) if rows else None
    so_far = {first + timedelta(days=i) for i in range(len(days)) if published[i]}
    if frame is None:
        then = since = None
    else:
        then = frame.filter(pl.col("date").is_in(so_far))
        since = frame.filter(~pl.col("date").is_in(so_far))
    months = sorted({(first + timedelta(days=i)).replace(day=1) for i in range(len(days))})
    prior = compute_statements(then, corrections_frame(corrections_then, months[0]), "then")
    booked = corrections_frame(corrections_now, months[-1])
    merged = compute_statements(since, booked, "now", prior=prior)
    assert merged.equals(compute_statements(frame, booked, "now"))
