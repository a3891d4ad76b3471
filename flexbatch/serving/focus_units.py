"""FOCUS 1.2 Unit Format names for ``PricingUnit`` and ``ConsumedUnit``.

Meters and credit currencies are snake_case identifiers (``streams_accessed``,
``flex_credit``); FOCUS wants a unit of measure written as words (UnitFormat-A-001: a
count unit such as ``Requests``, in the capitalisation FOCUS lists, UnitFormat-A-003). The
mapping is mechanical, so one identifier always gives one unit:

* words are split on anything not a letter or digit and capitalised (``Streams Accessed``);
  a word already holding capitals is kept (``vCPU`` stays ``vCPU``);
* a data-size word becomes its FOCUS spelling in bytes (``gb`` -> ``GB``, ``gib`` ->
  ``GiB``): a meter named ``*_gb`` counts gigabytes;
* a word that starts with a digit joins the word before it (a count unit's words start
  with a letter; a leading one is left out), and a name with no letter is ``Units``;
* a credit currency is counted in its plural (``flex_credit`` -> ``Flex Credits``), as FOCUS
  names count units (``Requests``, ``Tokens``).

Only the distinct meters and currencies of an export are mapped (a few), never its rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import duckdb
import pyarrow as pa

DATA_SIZE_UNITS = ("KB", "MB", "GB", "TB", "PB", "EB", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
_DATA_SIZE = {unit.lower(): unit for unit in DATA_SIZE_UNITS}
_WORD = re.compile(r"[A-Za-z0-9]+")


def unit_name(identifier: str, *, plural: bool = False) -> str:
    """The FOCUS Unit Format name of a meter or (``plural``) a credit currency."""
    words: list[str] = []
    for word in _WORD.findall(identifier):
        token = _DATA_SIZE.get(word.lower()) or (word.capitalize() if word.islower() else word)
        if words and not token[0].isalpha():
            words[-1] += token
        elif token[0].isalpha():
            words.append(token)
    if not words:
        return "Units"
    last = words[-1]
    if plural and last not in DATA_SIZE_UNITS and not last.endswith("s"):
        words[-1] = last + "s"
    return " ".join(words)


def register_units(
    con: duckdb.DuckDBPyConnection, meters: Iterable[str], currencies: Iterable[str]
) -> None:
    """Table ``focus_units(kind, identifier, unit)``: kind ``meter`` or ``currency``."""
    rows = [("meter", m, unit_name(m)) for m in sorted(set(meters))]
    rows += [("currency", c, unit_name(c, plural=True)) for c in sorted(set(currencies))]
    table = pa.table(
        {
            "kind": [r[0] for r in rows],
            "identifier": [r[1] for r in rows],
            "unit": [r[2] for r in rows],
        },
        schema=pa.schema(
            [("kind", pa.string()), ("identifier", pa.string()), ("unit", pa.string())]
        ),
    )
    con.register("focus_units_arrow", table)
    con.execute("create or replace temp table focus_units as select * from focus_units_arrow")
    con.unregister("focus_units_arrow")
