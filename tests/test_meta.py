"""Meta-tests: what is declared once agrees with everything that repeats it (the table
registry, the SQL headers, the Pandera models, the shipped resources, the README)."""

from __future__ import annotations

import re

import duckdb
import pytest

from flexbatch.cli import cli
from flexbatch.resources import sql_names, sql_text
from flexbatch.schemas import OUTPUT_MODELS
from flexbatch.tables import TABLES, empty_select

from helpers import REPO

KEY_LINE = re.compile(r"^-- key:\s+\(([^)]*)\)", re.MULTILINE)


def test_every_sql_file_ships_and_is_found_by_name():
    files = sorted(p.stem for p in (REPO / "sql").rglob("*.sql"))
    assert sql_names() == files  # unique names: a step is found by its name alone


@pytest.mark.parametrize("name", sql_names())
def test_every_sql_file_declares_its_grain_and_key(name):
    header = sql_text(name).split("\nwith", 1)[0].split("\nselect", 1)[0]
    assert re.search(r"^-- grain:", header, re.MULTILINE), f"{name}.sql: no '-- grain:' line"
    assert re.search(r"^-- key:", header, re.MULTILINE), f"{name}.sql: no '-- key:' line"


@pytest.mark.parametrize("spec", [t for t in TABLES if t.name in sql_names()], ids=str)
def test_sql_header_key_is_the_registry_key(spec):
    match = KEY_LINE.search(sql_text(spec.name))
    declared = tuple(c.strip() for c in match.group(1).split(",")) if match else ()
    assert declared == spec.key


@pytest.mark.parametrize("spec", TABLES, ids=lambda t: t.name)
def test_registry_agrees_with_the_pandera_model(spec):
    schema = OUTPUT_MODELS[spec.path].to_schema()
    partition = set() if spec.partition_in_files else {spec.partition_key}  # a view column
    columns = set(schema.columns) | partition
    assert set(spec.key) <= columns
    order = [c.split()[0] for c in spec.order.split(",")]
    assert set(order) <= columns
    unique = schema.unique or []
    if unique:  # a model that checks uniqueness checks the registry's key
        assert tuple(unique) == spec.key
    # the empty relation of the table has exactly the model's columns and the partition
    empty = duckdb.sql(empty_select(spec.path))
    assert set(empty.columns) == columns


def test_every_command_has_help_and_is_in_the_readme():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name, command in cli.commands.items():
        assert command.help, f"flexbatch {name} has no help"
        assert f"flexbatch {name}" in readme, f"flexbatch {name} is not in the README"


def test_every_python_package_is_in_the_wheel():
    """pyproject.toml lists the packages (sql/ and data/ are mapped in by name): a new
    subpackage left out of the list would be missing from every installed copy."""
    import tomllib

    listed = set(
        tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(p.parent.relative_to(REPO).parts)
        for p in (REPO / "flexbatch").rglob("__init__.py")
    }
    assert found <= listed, sorted(found - listed)
    assert {"flexbatch.sql", "flexbatch.sample"} <= listed


def test_every_computed_table_view_is_declared_once():
    # a table whose reader view is computed (forecast) has exactly one ComputedView of its
    # name, and every computed view's SQL files exist and read only declared tables
    from flexbatch.resources import sql_names
    from flexbatch.tables import COMPUTED_VIEWS, TABLES, table

    computed = {view.name for view in COMPUTED_VIEWS}
    assert len(computed) == len(COMPUTED_VIEWS)
    assert {t.name for t in TABLES if t.computed} == computed & {t.name for t in TABLES}
    names = set(sql_names())
    for view in COMPUTED_VIEWS:
        assert view.sql in names and {step for _, step in view.steps} <= names
        assert all(table(name) for name in view.reads)


# The windows and limits of flexbatch/ledger/rules.py and flexbatch/limits.py, as literals
# a copy would write them in SQL: they reach SQL only through credit_rules.
WINDOW_AND_LIMIT_COPIES = re.compile(
    r"\b(1e14|9e13|100000000000000|128)\b"  # the quantity ceiling, the id length
    r"|[-+] *(29|30|89|90|365)\b"  # a day offset of the windows
    r"|range\(1, *91\)"
)


@pytest.mark.parametrize("name", sql_names())
def test_no_sql_file_copies_a_window_or_a_limit(name):
    code = "\n".join(line.split("--")[0] for line in sql_text(name).splitlines())
    # projected_available_30d/60d/90d are the SPEC's fixed offsets (column names), and
    # forecasts stored before v3 held 90 daily rows (read as stored)
    code = re.sub(
        r"as_of \+ (30|60|90)\b|burn_rate \* (30|60|90)\b|expires_on <= ctx\.day \+ (30|60|90)\b",
        "",
        code,
    )
    assert not WINDOW_AND_LIMIT_COPIES.findall(code), name


def test_credit_rules_carry_the_python_constants():
    from flexbatch import limits
    from flexbatch.ledger import rules

    con = duckdb.connect()
    rules.register_rules(con)
    relation = con.sql("select * from credit_rules")
    (row,) = relation.fetchall()
    got = dict(zip(relation.columns, row, strict=True))
    assert got["usage_window_days"] == rules.USAGE_WINDOW_DAYS == 90
    assert got["burn_window_days"] == rules.BURN_WINDOW_DAYS == 30
    assert got["depletion_horizon_days"] == rules.DEPLETION_HORIZON_DAYS == 365
    assert got["expiring_window_days"] == rules.EXPIRING_WINDOW_DAYS == 90
    assert got["quantity_limit"] == float(limits.QUANTITY_LIMIT) == 1e14
    assert got["id_max_length"] == limits.ID_MAX_LENGTH == 128
