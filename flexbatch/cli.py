"""The ``flexbatch`` command line (SPEC §2): each command parses its options, resolves
paths and calls one function; ``main`` maps known errors to one line and an exit code."""

from __future__ import annotations

import json
import logging
import re
import sys
import warnings
from datetime import date
from pathlib import Path

import click

from flexbatch import __version__, config
from flexbatch.config import resolve_output, resolve_path, resolve_paths
from flexbatch.errors import ConfigError, FlexbatchError, known_failure, one_line
from flexbatch.job import metrics
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
    try:
        if not ISO_DAY.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{option} {value!r} is not a date; fix: use YYYY-MM-DD") from exc


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
    from flexbatch.job import pipeline

    if (day is None) == (not since_changed):
        raise ConfigError("run: give exactly one of --date D and --since-changed; fix: add one")
    paths = resolve_paths(input_, output)
    label = "since_changed" if since_changed else "run"
    settings = _settings()
    with metrics.recorded(settings.metrics_file, label, paths) as results:
        with config.removed_if_left_empty(paths):
            if since_changed:
                results += pipeline.run_changed(paths, engine=engine, settings=settings)
            else:
                the_day = config.check_day(_parse_day(day, "--date"), "--date")
                results += pipeline.run(paths, the_day, engine=engine, settings=settings)
        _print_results(results)


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
    from flexbatch.job.status import restated_days, stale_days  # no engine: answers at once

    paths = resolve_paths(input_, output)
    statuses = stale_days(paths, _settings())
    if fmt == "json":  # exactly SPEC §2's keys; runs.unread_files has the files not read
        click.echo(json.dumps([s.as_json() for s in statuses], indent=2))
        return
    unread = {s.day: _unread(paths, s.day) for s in statuses}
    restated = restated_days(paths, _settings())
    for s in statuses:
        finished = s.as_json()["finished_at"] or "-"
        state = f"stale: {s.reason}" if s.reason else s.state
        note = f"  (not read: {', '.join(unread[s.day])})" if unread[s.day] else ""
        if restated.get(s.day):
            note += f"  (restated: {restated[s.day]} rows)"
        click.echo(f"{s.day}  {finished:<20}  {state}{note}")


def _unread(paths: config.Paths, day: date) -> list[str]:
    """What the day's partition of a local IN holds that the job does not read."""
    from flexbatch.ingest.usage_input import unread_files

    if not isinstance(paths.input, Path) or not (paths.input / f"usage/date={day}").is_dir():
        return []
    return unread_files(paths.input, day, warn=False)  # shown in the listing instead


@cli.command()
@click.option("--from", "start", required=True, metavar="YYYY-MM-DD", help="First UTC day.")
@click.option("--to", "end", required=True, metavar="YYYY-MM-DD", help="Last UTC day (inclusive).")
@input_option
@output_option
@engine_option
def backfill(start: str, end: str, input_: str | None, output: str | None, engine: str) -> None:
    """Process every day from --from to --to in order, as nightly runs would."""
    from flexbatch.job import pipeline

    first = config.check_day(_parse_day(start, "--from"), "--from")
    last = config.check_day(_parse_day(end, "--to"), "--to")
    paths = resolve_paths(input_, output)
    settings = _settings()
    with metrics.recorded(settings.metrics_file, "backfill", paths) as results:
        with config.removed_if_left_empty(paths):
            results += pipeline.backfill(paths, first, last, engine=engine, settings=settings)
        _print_results(results)


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

    query_module.run_query(resolve_output(output), query, fmt, Path(to_file) if to_file else None)


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
    export_module.export_table(
        resolve_output(output),
        table,
        fmt=fmt,
        account=account,
        start=_parse_day(start, "--from") if start else None,
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
    written = report_module.write_reports(
        resolve_output(output),
        account=account,
        as_of=_parse_day(as_of, "--as-of") if as_of else None,
        window=window,
        since=_parse_day(since, "--since") if since else None,
        to_path=Path(to_path),
        rate_plans=_optional_rate_plans(input_),
    )
    for path in written:
        click.echo(str(path))


def _optional_rate_plans(input_: str | None) -> Path | None:
    """IN's rate_plans.toml for product names in the report, when IN is known and local."""
    try:
        inp = resolve_path(input_, "input")
    except ConfigError:
        return None  # no IN configured: the report shows product codes
    return inp / "rate_plans.toml" if isinstance(inp, Path) else None


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
    from flexbatch.audit import explain as explain_module
    from flexbatch.audit import render

    paths = resolve_paths(input_, output)
    if not isinstance(paths.input, Path) or not isinstance(paths.output, Path):
        raise ConfigError("explain: IN and OUT must be local folders; fix: copy them locally")
    result = explain_module.explain(paths.input, paths.output, transaction_id, limit)
    click.echo(render.to_json(result) if fmt == "json" else render.explain_text(result))


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
    from flexbatch.audit import simulate as simulate_module

    paths = resolve_paths(input_, output)
    if not isinstance(paths.input, Path) or not isinstance(paths.output, Path):
        raise ConfigError("simulate: IN and OUT must be local folders; fix: copy them locally")
    result = simulate_module.simulate(
        paths.input,
        paths.output,
        Path(draft),
        _parse_day(start, "--from"),
        _parse_day(end, "--to"),
        Path(diff_file) if diff_file else None,
    )
    click.echo(render.simulate_text(result, draft))


def _print_results(results: list) -> None:
    for r in results:
        c = r.counts
        click.echo(
            f"{r.day}  read {c.rows_read}  accepted {c.rows_accepted}  quarantined "
            f"{c.rows_quarantined}  duplicates {c.duplicates}  charges {r.charge_rows}  "
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
