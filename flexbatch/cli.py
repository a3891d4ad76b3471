"""The ``flexbatch`` command line (SPEC §2): each command parses its options, resolves
paths and calls one function; ``main`` maps known errors to one line and an exit code."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import date
from pathlib import Path

import click

from flexbatch import __version__
from flexbatch.config import resolve_output, resolve_paths
from flexbatch.errors import ConfigError, FlexbatchError

logger = logging.getLogger("flexbatch")

ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": record.getMessage(),
            }
        )


def _configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("flexbatch")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


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
def cli(log_level: str, log_format: str) -> None:
    """flexbatch: usage logs to credit charges, ledgers, balances and alerts."""
    _configure_logging(log_level, log_format)


@cli.command()
@click.option("--date", "day", required=True, metavar="YYYY-MM-DD", help="UTC day to process.")
@input_option
@output_option
def run(day: str, input_: str | None, output: str | None) -> None:
    """Process one UTC day, then every later day already in OUT."""
    from flexbatch import pipeline

    results = pipeline.run(resolve_paths(input_, output), _parse_day(day, "--date"))
    _print_results(results)


@cli.command()
@click.option("--from", "start", required=True, metavar="YYYY-MM-DD", help="First UTC day.")
@click.option("--to", "end", required=True, metavar="YYYY-MM-DD", help="Last UTC day (inclusive).")
@input_option
@output_option
def backfill(start: str, end: str, input_: str | None, output: str | None) -> None:
    """Process every day from --from to --to in order, as nightly runs would."""
    from flexbatch import pipeline

    results = pipeline.backfill(
        resolve_paths(input_, output), _parse_day(start, "--from"), _parse_day(end, "--to")
    )
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
    from flexbatch import query as query_module

    query_module.run_query(resolve_output(output), query, fmt, Path(to_file) if to_file else None)


@cli.command()
@click.option("--output", metavar="OUT", help="Where to write (default: a new temporary folder).")
def demo(output: str | None) -> None:
    """Run the whole job on the sample data in data/ and print a summary."""
    from flexbatch import demo as demo_module

    demo_module.run_demo(Path(output) if output else None)


def _print_results(results: list) -> None:
    for r in results:
        c = r.counts
        click.echo(
            f"{r.day}  read {c.rows_read}  accepted {c.rows_accepted}  quarantined "
            f"{c.rows_quarantined}  duplicates {c.duplicates}  charges {r.charge_rows}  "
            f"credits {r.credits}"
        )


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("flexbatch: aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except FlexbatchError as exc:
        click.echo(f"flexbatch: {_one_line(exc)}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug: still one line, the traceback only in debug logs
        logger.debug("unexpected error", exc_info=True)
        click.echo(f"flexbatch: unexpected error: {type(exc).__name__}: {_one_line(exc)}", err=True)
        sys.exit(1)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


if __name__ == "__main__":
    main()
