"""The ``flexbatch`` command line (SPEC §2): each command parses its options, resolves
paths and calls one function; ``main`` maps known errors to one line and an exit code."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import click

from flexbatch import __version__, config
from flexbatch.config import resolve_path, resolve_paths
from flexbatch.errors import ConfigError, FlexbatchError, known_failure, one_line
from flexbatch.logs import configure_logging
from flexbatch.settings import Settings

# pandera imports pyspark whenever it is installed (flexbatch[spark]), and pyspark warns
# on import when pandas 3 is present: nothing a user can act on, and it would put a
# second line before every one-line error
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)

logger = logging.getLogger("flexbatch")

ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _parse_day(value: str, option: str) -> date:
    """An ISO day (the range the job processes is checked by the commands that compute)."""
    try:
        if not ISO_DAY.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{option} {value!r} is not a date; fix: use YYYY-MM-DD") from exc


def _api():  # type: ignore[no-untyped-def]
    """The library functions every command calls (loaded when a command runs)."""
    from flexbatch import api

    return api


input_option = click.option(
    "--input", "input_", metavar="IN", help="Input folder (usage/, rate_plans.toml, grants)."
)
output_option = click.option("--output", metavar="OUT", help="Output folder of the ledgers.")
engine_option = click.option(
    "--engine",
    type=click.Choice(["duckdb", "spark"]),
    default="duckdb",
    show_default=True,
    envvar="FLEXBATCH_ENGINE",
    help="Where the event-sized steps run (spark: pip install 'flexbatch[spark]'; "
    "FLEXBATCH_SPARK_MASTER or spark-submit picks the cluster).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flexbatch")
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Log verbosity.",
)
@click.option(
    "--log-format",
    default="text",
    show_default=True,
    type=click.Choice(["text", "json"]),
    help="Log line format on stderr.",
)
@click.pass_context
def cli(ctx: click.Context, log_level: str, log_format: str) -> None:
    """flexbatch: usage logs to credit charges, ledgers, balances and alerts."""
    configure_logging(log_level, log_format)
    ctx.obj = Settings.from_env()  # the environment, read once, for every command


def _settings() -> Settings:
    return click.get_current_context().find_root().obj or Settings.from_env()


@cli.command()
@click.option("--date", "day", metavar="YYYY-MM-DD", help="UTC day to process.")
@click.option(
    "--since-changed",
    is_flag=True,
    help="Instead of --date: recompute from the earliest day whose inputs or config changed.",
)
@input_option
@output_option
@engine_option
def run(
    day: str | None, since_changed: bool, input_: str | None, output: str | None, engine: str
) -> None:
    """Process one UTC day, then every later day already in OUT."""
    if (day is None) == (not since_changed):
        raise ConfigError("run: give exactly one of --date D and --since-changed; fix: add one")
    options = {"engine": engine, "settings": _settings(), "progress": sys.stderr.isatty()}
    if since_changed:
        summary = _api().run_since_changed(input_, output, **options)
    else:
        the_day = config.check_day(_parse_day(day, "--date"), "--date")  # type: ignore[arg-type]
        summary = _api().run(the_day, input_, output, **options)
    _print_results(summary.days)


@cli.command()
@input_option
@output_option
@click.option(
    "--format",
    "fmt",
    default="table",
    show_default=True,
    type=click.Choice(["table", "json"]),
    help="table, or json: one array of objects (date, state, reason, run_id, finished_at).",
)
def status(input_: str | None, output: str | None, fmt: str) -> None:
    """List processed days: fresh, or stale with the reason (inputs or config changed
    since, or a cascade that was interrupted)."""
    if fmt == "json":  # exactly SPEC §2's keys; runs.unread_files has the files not read
        statuses = _api().status(input_, output, settings=_settings())
        click.echo(json.dumps(statuses, indent=2))
        return
    from flexbatch.job.status import day_report  # no engine: answers at once

    paths = resolve_paths(input_, output)
    with _api().known_failures():
        days, restated = day_report(paths, _settings())
    shown = _lists_unread(paths.input)
    for s in days:
        fields = s.as_json()
        finished = fields["finished_at"] or "-"
        state = f"stale: {s.reason}" if s.reason else s.state
        note = f"  (not read: {', '.join(s.unread)})" if shown and s.unread else ""
        if restated.get(s.day):
            note += f"  (restated: {restated[s.day]} rows)"
        click.echo(f"{s.day}  {finished:<20}  {state}{note}")
    if isinstance(paths.output, Path):  # the books: each month open or closed (SPEC §8)
        from flexbatch.books.state import status_lines
        from flexbatch.storage.stores import LocalStore

        for line in status_lines(LocalStore(paths.output)):
            click.echo(line)


def _local_or_s3_store(location: object) -> object | None:
    """The store of a local or S3 IN (None for a Hadoop URI: its listing needs Spark)."""
    from flexbatch.storage.stores import open_store

    if isinstance(location, Path) or str(location).startswith("s3://"):
        return open_store(location, settings=_settings())  # type: ignore[arg-type]
    return None


def _lists_unread(location: object) -> bool:
    """Whether the text ``status`` shows what IN's partitions hold unread: for a local or
    S3 IN, not a Hadoop URI (``runs.unread_files`` records it there)."""
    return isinstance(location, Path) or str(location).startswith("s3://")


@cli.command()
@click.option("--from", "start", required=True, metavar="YYYY-MM-DD", help="First UTC day.")
@click.option("--to", "end", required=True, metavar="YYYY-MM-DD", help="Last UTC day (inclusive).")
@input_option
@output_option
@engine_option
def backfill(start: str, end: str, input_: str | None, output: str | None, engine: str) -> None:
    """Process every day from --from to --to in order, as nightly runs would."""
    first = config.check_day(_parse_day(start, "--from"), "--from")
    last = config.check_day(_parse_day(end, "--to"), "--to")
    summary = _api().backfill(
        first,
        last,
        input_,
        output,
        engine=engine,
        settings=_settings(),
        progress=sys.stderr.isatty(),
    )
    _print_results(summary.days)


@cli.command()
@click.option("--month", required=True, metavar="YYYY-MM", help="The UTC calendar month to close.")
@input_option
@output_option
def close(month: str, input_: str | None, output: str | None) -> None:
    """Close a month's books: its statements are issued (status closed) and its ledger
    exports frozen; later changes to it are booked as corrections (SPEC §8)."""
    result = _api().close(month, input_, output, settings=_settings())
    state = "closed" if result.closed_now else "already closed"
    click.echo(f"{result.month:%Y-%m}  {state} at {result.closed_at}")


@cli.command()
@click.argument("query")
@output_option
@click.option(
    "--format",
    "fmt",
    default="table",
    show_default=True,
    type=click.Choice(["table", "csv", "json", "parquet"]),
    help="Result format.",
)
@click.option("--to", "to_file", metavar="FILE", help="Write the result to FILE instead of stdout.")
def sql(query: str, output: str | None, fmt: str, to_file: str | None) -> None:
    """Run read-only SQL (DuckDB dialect) over the output tables."""
    from flexbatch.serving import query as query_module

    with _api().local_output(output, "views", _settings()) as out:
        query_module.run_query(out, query, fmt, Path(to_file) if to_file else None)


@cli.command()
@click.argument("table")
@output_option
@click.option("--account", help="Only this account.")
@click.option("--from", "start", metavar="YYYY-MM-DD", help="First day (inclusive).")
@click.option(
    "--to",
    "to_values",
    multiple=True,
    metavar="YYYY-MM-DD|FILE",
    help="Last day (inclusive) when a date, else the file to write; may be given twice.",
)
@click.option(
    "--format",
    "fmt",
    required=True,
    type=click.Choice(["csv", "parquet", "focus"]),
    help="csv, parquet, or FinOps FOCUS 1.2 rows (CSV).",
)
def export(
    table: str,
    output: str | None,
    account: str | None,
    start: str | None,
    to_values: tuple[str, ...],
    fmt: str,
) -> None:
    """Export one output table (filtered), as CSV, Parquet or FOCUS."""
    from flexbatch.serving import export as export_module

    end, to_file = _split_to(to_values)
    first = _parse_day(start, "--from") if start else None
    with _api().local_output(output, "views", _settings()) as out:
        export_module.export_table(
            out,
            table,
            fmt=fmt,
            account=account,
            start=first,
            end=end,
            to_file=to_file,
            provider=_settings().provider_name,
        )


def _split_to(values: tuple[str, ...]) -> tuple[date | None, Path | None]:
    """SPEC §2 uses --to for both the last day and the file: a date is the day."""
    end, to_file = None, None
    for value in values:
        if ISO_DAY.fullmatch(value):
            end = _parse_day(value, "--to")
        elif to_file is None:
            to_file = Path(value)
        else:
            raise ConfigError("--to: two files given; fix: give one --to FILE")
    return end, to_file


@cli.command()
@click.option("--account", help="The account to report on.")
@click.option("--all", "all_accounts", is_flag=True, help="One report per account + an index.")
@input_option
@output_option
@click.option("--as-of", metavar="YYYY-MM-DD", help="Report day (default: latest processed).")
@click.option(
    "--window",
    default="3m",
    show_default=True,
    type=click.Choice(["1m", "3m", "6m", "12m", "custom"]),
    help="Range shown first (the page switches between 1m, 3m, 6m, 12m and all).",
)
@click.option("--since", metavar="YYYY-MM-DD", help="Window start with --window custom.")
@click.option(
    "--to",
    "to_path",
    required=True,
    metavar="FILE|DIR",
    help="HTML file (one account) or folder (--all).",
)
def report(
    account: str | None,
    all_accounts: bool,
    input_: str | None,
    output: str | None,
    as_of: str | None,
    window: str,
    since: str | None,
    to_path: str,
) -> None:
    """Write a self-contained HTML balance report."""
    from flexbatch.serving import report as report_module

    if bool(account) == all_accounts:
        raise ConfigError("report: give --account A or --all; fix: add one of them")
    day = _parse_day(as_of, "--as-of") if as_of else None
    first = _parse_day(since, "--since") if since else None
    with (
        _api().local_output(output, "all", _settings()) as out,  # grants held: _state
        _rate_plans(input_) as rate_plans,
    ):
        written = report_module.write_reports(
            out,
            account=account,
            as_of=day,
            window=window,
            since=first,
            to_path=Path(to_path),
            rate_plans=rate_plans,
        )
    for path in written:
        click.echo(str(path))


@contextlib.contextmanager
def _rate_plans(input_: str | None) -> Iterator[Path | None]:
    """IN's rate_plans.toml for product names in the report, when IN is known and local
    or on S3 (a copy, deleted afterwards)."""
    try:
        inp = resolve_path(input_, "input")
    except ConfigError:
        yield None  # no IN configured: the report shows product codes
        return
    if isinstance(inp, Path):
        yield inp / "rate_plans.toml"
        return
    store = _local_or_s3_store(inp)
    if store is None or not store.exists("rate_plans.toml"):  # type: ignore[attr-defined]
        yield None
        return
    try:
        yield store.local("rate_plans.toml")  # type: ignore[attr-defined]
    finally:
        store.close()  # type: ignore[attr-defined]


@cli.command()
@click.option("--output", metavar="OUT", help="Where to write (default: a new temporary folder).")
def demo(output: str | None) -> None:
    """Run the whole job on the sample data in data/ and print a summary."""
    from flexbatch import demo as demo_module

    demo_module.run_demo(Path(output) if output else None)


@cli.command()
@click.argument("transaction_id")
@input_option
@output_option
@click.option(
    "--format",
    "fmt",
    default="text",
    show_default=True,
    type=click.Choice(["text", "json"]),
    help="text, or json: one object (charge, positions, subjects, events, ledger).",
)
@click.option(
    "--limit",
    default=100,
    show_default=True,
    type=click.IntRange(min=0),
    help="Most events listed for a sum or peak row.",
)
def explain(
    transaction_id: str, input_: str | None, output: str | None, fmt: str, limit: int
) -> None:
    """Explain one charge row: its tier positions, the subjects or events it counted
    (read from IN) and the ledger entries that paid for it."""
    from flexbatch.audit import render

    _local_or_s3(resolve_paths(input_, output), "explain")
    result = _api()._explain(transaction_id, input_, output, limit, _settings())
    click.echo(render.to_json(result) if fmt == "json" else render.explain_text(result))


def _local_or_s3(paths: config.Paths, command: str) -> None:
    """explain and simulate read IN and OUT with DuckDB: local folders or s3://."""
    for location in (paths.input, paths.output):
        if not isinstance(location, Path) and not str(location).startswith("s3://"):
            raise ConfigError(
                f"{command}: {location}: IN and OUT must be local folders or s3://; fix: "
                "copy them locally"
            )


@cli.command()
@click.option("--plans", "draft", required=True, metavar="DRAFT.toml", help="Draft rate plans.")
@click.option("--from", "start", required=True, metavar="YYYY-MM-DD", help="First UTC day.")
@click.option("--to", "end", required=True, metavar="YYYY-MM-DD", help="Last UTC day (inclusive).")
@input_option
@output_option
@click.option(
    "--diff",
    "diff_file",
    metavar="FILE",
    help="Write the per account/scope/product/plan/month diff (.csv or .parquet).",
)
def simulate(
    draft: str,
    start: str,
    end: str,
    input_: str | None,
    output: str | None,
    diff_file: str | None,
) -> None:
    """Re-price processed days under draft rate plans in a scratch folder (OUT is never
    changed) and compare charged credits, balances and depletion dates."""
    from flexbatch.audit import render

    first, last = _parse_day(start, "--from"), _parse_day(end, "--to")
    _local_or_s3(resolve_paths(input_, output), "simulate")
    result = _api()._simulate(draft, first, last, input_, output, diff_file, _settings())
    click.echo(render.simulate_text(result, draft))


def _print_results(days: tuple) -> None:  # type: ignore[type-arg]
    for r in days:
        click.echo(
            f"{r.day}  read {r.rows_read}  accepted {r.rows_accepted}  quarantined "
            f"{r.rows_quarantined}  duplicates {r.duplicates}  charges {r.charge_rows}  "
            f"credits {r.credits}"
        )


def main() -> None:
    """Run the CLI; every expected failure ends here as one line and its exit code."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("flexbatch: aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except FlexbatchError as exc:
        _fail(exc)
    except Exception as exc:
        known = known_failure(exc, config.current_output())
        if known is not None:
            logger.debug("%s", known, exc_info=True)
            _fail(known)
        # a bug: still one line, the traceback only in debug logs
        logger.debug("unexpected error", exc_info=True)
        click.echo(f"flexbatch: unexpected error: {type(exc).__name__}: {one_line(exc)}", err=True)
        sys.exit(1)


def _fail(exc: FlexbatchError) -> None:
    click.echo(f"flexbatch: {one_line(exc)}", err=True)
    sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
