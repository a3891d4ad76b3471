"""The table registry: every table the job publishes into OUT, declared once.

Each entry says where the table lives, its partition key, the columns its files are sorted
by (files are deterministic), which step produces it, whether it is a log (a file per run,
earlier runs kept) and whether it is a view for readers. The views of ``flexbatch sql``
and the catalog, the publication order, the Pandera check of each frame and the layout of
a day's commit are derived from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flexbatch.storage.literal import duckdb_literal, sql_string

MONTH = "month"  # the partition key of the books' tables: ``month=YYYY-MM``

# The files of a partition that are rows of its table, as a DuckDB glob: storage.partitions'
# is_table_file rule (``*.parquet`` but not ``.``/``_``-prefixed temporary or marker files;
# a test pins the two), so the views read what every other reader of OUT reads.
TABLE_FILE_GLOB = "[!._]*.parquet"


@dataclass(frozen=True)
class Table:
    name: str
    producer: str  # the step that computes it: "charging", "ledger" or "job"
    order: str  # the columns its files are sorted by (deterministic files)
    key: tuple[str, ...] = ()  # unique within a partition; () when rows have no key
    folder: str = ""  # under OUT; the name when empty
    partition_key: str = "date"  # the partition column
    log: bool = False  # a file per run; a republication adds one and keeps the others
    view: bool = True  # a view of ``flexbatch sql`` and the catalog
    # the files hold the partition's value in this column (``corrections``: its
    # ``booked_month``), so views leave the folder's out; None: the folder holds it
    partition_column: str | None = None
    # (name, DuckDB type) of columns that files written by earlier releases hold and this
    # release no longer writes: readers see them (null in newer files) so both can be read
    legacy_columns: tuple[tuple[str, str], ...] = ()
    # the view is computed on read from the files (a ComputedView of that name), not them
    computed: bool = False

    @property
    def path(self) -> str:
        return self.folder or self.name

    @property
    def partition_in_files(self) -> bool:
        return self.partition_column is not None

    @property
    def filter_column(self) -> str:
        """The column readers filter and order this table's partitions by."""
        return self.partition_column or self.partition_key

    @property
    def key_order(self) -> tuple[str, ...] | None:
        """The sort columns when ``order`` is exactly the key, each ascending with the
        default null order (so any engine sorting by them gives the same row order), else
        None."""
        columns = tuple(c.strip() for c in self.order.split(","))
        return columns if self.key and columns == self.key else None

    def view_select(self, source: str) -> str:
        """The table as readers see it, from ``source`` (its files with the folder's
        partition column). A month folder holds ``YYYY-MM`` (SPEC §8), so that every
        reader (Polars, pyarrow, Spark) reads it as text; the view makes it the month's
        first day, or leaves it out when the files hold the value (``partition_column``)."""
        if self.partition_key != MONTH:
            return f"select * from {source}"
        if self.partition_in_files:
            return f"select * exclude ({MONTH}) from {source}"
        return f"select * replace (cast({MONTH} || '-01' as date) as {MONTH}) from {source}"

    def partition(self, day: date | str) -> str:
        """The partition folder of ``day``, relative to OUT."""
        return (
            f"{self.path}/{self.partition_key}={day if isinstance(day, str) else day.isoformat()}"
        )

    def file_name(self, run_id: str) -> str:
        return f"run-{run_id}.parquet" if self.log else "part-0.parquet"

    def duckdb_source(self, out: Path) -> str:
        """A ``read_parquet`` of every partition of this table under ``out``: the literal
        OUT escaped, the partition pattern not, so ``out`` may hold ``[ ] * ?``."""
        folder = duckdb_literal(Path(out).resolve() / self.path)
        pattern = f"{folder}/{self.partition_key}=*/{TABLE_FILE_GLOB}"
        if self.partition_key == MONTH:
            files = (
                f"read_parquet({sql_string(pattern)}, hive_partitioning = true, "
                f"hive_types = {{'{MONTH}': 'varchar'}}, union_by_name = true)"
            )
            return f"({self.view_select(files)})"
        return (
            f"read_parquet({sql_string(pattern)}, hive_partitioning = true, "
            f"hive_types = {{'{self.partition_key}': 'date'}}, union_by_name = true)"
        )


# In publication order: within a day, ``runs`` goes last, so a reader that sees a day's
# latest run in ``runs`` knows every other table of the day holds that run's rows.
TABLES: tuple[Table, ...] = (
    Table(
        "usage_daily",
        "charging",
        "account_id, scope_id, product_code, meter",
        ("account_id", "scope_id", "product_code", "meter"),
    ),
    Table(
        "usage_by_user_daily",
        "charging",
        "account_id, scope_id, product_code, meter, user_id",
        ("account_id", "scope_id", "product_code", "meter", "user_id"),
    ),
    Table(
        "charges",
        "charging",
        "account_id, scope_id, plan_id, tier",
        ("account_id", "scope_id", "plan_id", "tier"),
    ),
    Table(
        "quarantine",
        "charging",
        "source_file, event_id nulls first, ts nulls first, account_id nulls first, "
        "scope_id nulls first, product_code nulls first, meter nulls first, "
        "user_id nulls first, resource_id nulls first, quantity nulls first, reason",
    ),
    Table(
        "subjects_state",
        "charging",
        "plan_id, period_start, account_id, threshold_key, subject_scope, subject_id",
        ("plan_id", "period_start", "account_id", "threshold_key", "subject_scope", "subject_id"),
        folder="_state/subjects",
        view=False,
    ),
    Table(
        "credit_ledger",
        "ledger",
        # entry_type last: a slice's rollover_out and expire of one day tie on the rest
        "account_id, entry_order, currency, product_code nulls first, ref nulls first, "
        "grant_id nulls first, entry_type",
    ),
    Table("balances", "ledger", "account_id, currency", ("account_id", "currency")),
    Table(
        "forecast",
        "ledger",
        "account_id, currency",
        ("account_id", "currency"),
        partition_key="as_of",
        computed=True,
        legacy_columns=(("date", "date"), ("projected_available", "decimal(38, 6)")),
    ),
    Table("alerts", "ledger", "account_id, kind, ref", ("account_id", "kind", "ref")),
    Table("topups", "ledger", "rule_id", ("rule_id",)),  # SPEC §10: by trigger day
    Table(
        "revenue",
        "ledger",
        "account_id, currency, cost_currency",
        ("account_id", "currency", "cost_currency"),
    ),
    Table(
        "revenue_entries",
        "ledger",
        "account_id, entry_order, grant_id, entry_type, ref nulls first",
        ("account_id", "grant_id", "entry_type", "ref"),
    ),
    Table(
        "grant_state",
        "ledger",
        "account_id, grant_id",
        ("account_id", "grant_id"),
        folder="_state/grants",
        view=False,
    ),
    # the books (SPEC §8), published by ``flexbatch.books`` after a command's days, a
    # month a partition; not part of a day's commit
    Table(
        "statements",
        "books",
        "account_id, currency",
        ("account_id", "currency"),
        partition_key="month",
    ),
    Table(
        "corrections",
        "books",
        "closed_month, account_id, currency, correction_id",
        ("closed_month", "account_id", "currency", "correction_id"),
        partition_key="month",
        log=True,
        partition_column="booked_month",
    ),
    Table("restatements", "job", "account_id, currency", ("account_id", "currency"), log=True),
    Table("runs", "job", "run_id", ("run_id",), log=True),
)


@dataclass(frozen=True)
class ComputedView:
    """A view readers see that is computed on read from published files (SPEC §5 v3:
    ``forecast_daily``) rather than read from them: the SELECT of ``sql/<sql>.sql`` over the
    relations ``_<table>_files`` of the tables it reads (each table's rows with its
    partition column, legacy columns included) and ``steps``, each a CTE named as given
    over the SELECT of ``sql/<file>.sql``, in order."""

    name: str
    sql: str
    reads: tuple[str, ...]  # registry tables by name
    steps: tuple[tuple[str, str], ...] = ()  # (relation the SQL reads, sql/ file of it)


COMPUTED_VIEWS: tuple[ComputedView, ...] = (
    # the published compact rows, and partitions written before v3 (90 rows ahead each)
    # folded into the compact form
    ComputedView("forecast", "forecast_read", ("forecast",)),
    # the day-by-day curve from the compact row and that day's slices, by the expiry
    # model the job applies (forecast_write_offs); legacy partitions' rows as stored
    ComputedView(
        "forecast_daily",
        "forecast_daily",
        ("forecast", "grant_state"),
        (
            ("forecast_slices", "forecast_read_slices"),
            ("forecast_rates", "forecast_read_rates"),
            ("forecast_write_offs", "forecast_write_offs"),
        ),
    ),
)
# the tables whose files the computed views read
COMPUTED_READS: tuple[str, ...] = tuple(dict.fromkeys(n for v in COMPUTED_VIEWS for n in v.reads))


def files_relation(path_or_name: str) -> str:
    """The relation name under which a computed view reads a table's files."""
    return f"_{table(path_or_name).name}_files"


BY_PATH = {t.path: t for t in TABLES}
BY_NAME = {t.name: t for t in TABLES}
VIEWS = tuple(t for t in TABLES if t.view)


def table(path_or_name: str) -> Table:
    """A table by its folder under OUT or its name."""
    return BY_PATH.get(path_or_name) or BY_NAME[path_or_name]


def key_columns(path_or_name: str) -> list[str]:
    """The key of a published table (its rows are unique by these columns), for the
    Pandera models and the Spark engine's checks."""
    spec = table(path_or_name)
    if not spec.key:
        raise ValueError(f"{spec.name} declares no key")
    return list(spec.key)


def produced_by(producer: str) -> tuple[Table, ...]:
    return tuple(t for t in TABLES if t.producer == producer)


DUCKDB_TYPES = {
    "String": "varchar",
    "Int64": "bigint",
    "Int32": "integer",
    "Float64": "double",
    "Boolean": "boolean",
    "Date": "date",
    "Datetime": "timestamp",
}


def duckdb_type(dtype: object) -> str:
    """The DuckDB type of a Polars dtype of a published column."""
    if getattr(dtype, "precision", None) is not None:  # Decimal(p, s)
        return f"decimal({dtype.precision}, {dtype.scale})"  # type: ignore[attr-defined]
    kind = dtype if isinstance(dtype, type) else type(dtype)  # a class, or an instance
    return DUCKDB_TYPES[kind.__name__]


def empty_select(path_or_name: str, *, legacy: bool = False) -> str:
    """A typed SELECT of no rows with the published table's columns and its partition
    column (for a relation over a table that has no file yet); with ``legacy``, the
    table's legacy columns too."""
    from flexbatch.schemas import OUTPUT_MODELS  # pandera: only when needed

    spec = table(path_or_name)
    columns = OUTPUT_MODELS[spec.path].to_schema().columns
    casts = [f"cast(null as {duckdb_type(c.dtype.type)}) as {name}" for name, c in columns.items()]
    if spec.partition_key not in columns and not spec.partition_in_files:
        casts.append(f"cast(null as date) as {spec.partition_key}")
    if legacy:
        casts.extend(f"cast(null as {kind}) as {name}" for name, kind in spec.legacy_columns)
    return f"select {', '.join(casts)} where false"


def files_select(path_or_name: str, rows: str | None) -> str:
    """The SELECT behind ``files_relation``: ``rows`` (a relation over the table's files,
    None when it has none) with every column of the table and its legacy columns (null
    where a file lacks one), so SQL over it binds whichever releases wrote the files."""
    empty = empty_select(path_or_name, legacy=True)
    if rows is None:
        return empty
    return f"select * from {rows} union all by name {empty}"
