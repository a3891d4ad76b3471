"""`flexbatch report`: self-contained HTML rendered in a real headless Chromium (Debian's
`chromium`, installed by .ci/setup-chromium.sh) at 1280 and 420 px, screenshotted, its
layout and inline script probed; every figure checked against the output tables computed
independently here; the overdrawn (umbrella), expired (acme's cloud_credit) and ordinary
(initech) accounts of the sample read truthfully; no network request; file names that
cannot leave the target folder; every value HTML-escaped.

Chromium tests skip when the browser is absent and CI is unset, and fail when CI is set."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN
from decimal import Decimal as D
from html import escape, unescape
from pathlib import Path

import duckdb
import polars as pl
import pytest
from test_catalog import demo_output

from flexbatch.config import Paths
from flexbatch.errors import ConfigError
from flexbatch.job import pipeline
from flexbatch.serving.report import report_file_name, window_start, write_reports
from flexbatch.serving.views import register_views

from helpers import event, plan_toml, read_table, write_grants, write_plans, write_usage

RATE_PLANS = Path(__file__).resolve().parent.parent / "data" / "rate_plans.toml"
DAY = date(2026, 9, 1)
AS_OF = date(2026, 10, 31)
HOSTILE = ("<script>alert('x')</script>", "../../escaped", "a/b", "a-b", "..")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)
ACCOUNTS = ("umbrella", "acme", "initech")  # overdrawn, expired currency, ordinary


@pytest.fixture(scope="session")
def demo_out(tmp_path_factory) -> Path:
    return demo_output(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def reports(demo_out, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("reports") / "all"
    written = write_reports(
        demo_out,
        account=None,
        as_of=None,
        window="3m",
        since=None,
        to_path=folder,
        rate_plans=RATE_PLANS,
    )
    return {p.name.rsplit("-", 1)[0] if p.name != "index.html" else "index": p for p in written}


@pytest.fixture(scope="module")
def html(reports) -> dict[str, str]:
    return {name: path.read_text(encoding="utf-8") for name, path in reports.items()}


@pytest.fixture(scope="module")
def tables(demo_out) -> dict[str, pl.DataFrame]:
    names = ("balances", "charges", "credit_ledger", "usage_daily", "usage_by_user_daily")
    return {name: read_table(demo_out, name) for name in names}


def balance(tables, account: str, currency: str) -> dict:
    b = tables["balances"]
    return b.filter(
        (pl.col("date") == AS_OF)
        & (pl.col("account_id") == account)
        & (pl.col("currency") == currency)
    ).row(0, named=True)


def text_of(page: str) -> str:
    """The visible text: tags and attributes dropped."""
    return unescape(re.sub(r"<[^>]+>", " ", page.split("<script>")[0]))


def money(value: D) -> str:
    return f"{value.quantize(D('0.01'), rounding=ROUND_HALF_EVEN):,.2f}"


# -- figures against the tables ------------------------------------------------------


def test_every_tile_equals_the_balances_table(tables, html):
    rows = tables["balances"].filter(pl.col("date") == AS_OF)
    assert rows.height == 5
    for row in rows.iter_rows(named=True):
        page, currency = html[row["account_id"]], row["currency"]
        for metric, column in (
            ("available", "available"),
            ("overdraft", "overdraft_total"),
            ("used", "used_total"),
            ("purchased", "purchased_total"),
            ("expiring_90d", "expiring_90d"),
            ("expired", "expired_total"),
        ):
            tile = f'data-metric="{metric}" data-currency="{currency}" data-value="{row[column]}"'
            assert tile in page, (row["account_id"], currency, metric)
            shown = page.split(tile)[1].split('<div class="value">')[1].split("<")[0]
            assert shown == money(row[column])
        section = page.split(f'<section class="card currency" data-currency="{currency}">')[1]
        assert f'data-band="{row["band"]}"' in section.split("</section>")[0]
        # SPEC §10: the entitlement state per currency
        entitled = str(row["entitled"]).lower()
        assert f'data-metric="entitled" data-currency="{currency}" data-value="{entitled}"' in page


def test_the_grant_lifecycle_is_marked_on_the_burndown(tables, html):
    """globex (SPEC §10): the voided promo, the rolled-over bonus and the top-up are on its
    burndown and in its token events, with the amounts of the ledger."""
    ledger = tables["credit_ledger"].filter(pl.col("account_id") == "globex")
    voided = -ledger.filter(pl.col("entry_type") == "void")["amount"].sum()
    rolled = ledger.filter(pl.col("entry_type") == "rollover_in")["amount"].sum()
    assert (voided > 0, rolled) == (True, D(100))
    page = html["globex"]
    assert f"voided -{money(voided)}" in page
    assert "rolled over +100.00" in page and "top-up +250.00" in page
    b = balance(tables, "globex", "flex_token")
    tile = f'data-metric="voided" data-currency="flex_token" data-value="{b["voided_total"]}"'
    assert tile in page and b["voided_total"] == voided


def test_usage_per_day_counts_the_overdraft(tables, html):
    """The overdrawn account consumes about 13 a day although no credit is left."""
    recent = tables["balances"].filter(pl.col("date") > AS_OF - timedelta(days=30))
    for row in (
        recent.group_by("account_id", "currency")
        .agg(pl.col("consumed").sum(), pl.col("overdraft").sum(), pl.len())
        .iter_rows(named=True)
    ):
        used = (row["consumed"] + row["overdraft"]) / row["len"]
        expected = used.quantize(D("0.000001"), rounding=ROUND_HALF_EVEN)
        tile = f'data-metric="usage_rate" data-currency="{row["currency"]}" data-value="{expected}"'
        assert tile in html[row["account_id"]]
    assert (
        'data-metric="usage_rate" data-currency="flex_credit" data-value="12.523891"'
        in (html["umbrella"])
    )


def test_the_three_sample_accounts_read_truthfully(demo_out, html):
    umbrella, acme, initech = (html[a] for a in ACCOUNTS)
    # overdrawn: its state, the overdraft on the index, the series below zero, the ring
    assert 'data-state="overdraft"' in umbrella
    assert "in overdraft since 2026-09-09" in umbrella
    assert "Overdraft (uncovered usage, below 0)" in umbrella
    assert "Overdraft 660.42 (outer ring)" in umbrella and "−660.42" in umbrella
    index_row = html["index"].split('data-account="umbrella" data-currency="flex_credit"')[1]
    assert 'data-metric="overdraft" data-value="660.418520">660.42' in index_row.split("</tr>")[0]
    assert 'data-state="overdraft">in overdraft since 2026-09-09' in index_row
    # expired: not "depleted"; the expiry marked on the burndown
    cloud = acme.split('data-currency="cloud_credit">')[1].split("</section>")[0]
    assert 'data-state="expired"' in cloud and "expired on 2026-10-01" in cloud
    assert "307.63 expired unused" in cloud
    assert "expired unused -307.63" in cloud  # the burndown's marker
    assert "transfer out -200.00 to initech" in acme
    assert "transfer in +200.00 from acme" in initech
    for page in html.values():
        assert "depleted" not in text_of(page)
    # ordinary: the forecast's depletion date
    depletes = depletion_date(demo_out, "initech")
    assert depletes is not None
    assert f'data-state="depletes" data-value="{depletes}"' in initech


def depletion_date(demo_out: Path, account: str) -> date:
    """The forecast's depletion date on the as-of day, through the reader views."""
    con = duckdb.connect()
    register_views(con, demo_out)
    return con.execute(
        "select min(depletion_date) from forecast where account_id = ? and as_of = ?",
        [account, AS_OF],
    ).fetchone()[0]


def test_usage_over_time_and_itemised_rows_equal_the_charges(tables, html):
    charges = tables["charges"]
    for account in ACCOUNTS:
        mine = charges.filter(pl.col("account_id") == account)
        for key, start in (("1m", window_start(AS_OF, "1m", None)), ("3m", date(2026, 9, 1))):
            total = mine.filter(pl.col("date") >= start)["credits"].sum()
            tag = f'data-metric="period_credits" data-range="{key}" data-value="{total}"'
            assert tag in html[account], (account, key)
        items = mine.group_by("date", "product_code", "scope_id", "plan_id", "meter").agg(
            pl.col("credits").sum()
        )
        page = html[account].split('class="data items-table"')[1]
        assert page.count("<tr data-date=") == items.height
        assert f"Show the {items.height:,} rows" in html[account]


def test_itemised_rows_split_credits_into_covered_and_overdraft(tables, html):
    ledger = tables["credit_ledger"].filter(pl.col("account_id") == "umbrella")
    uncovered = -ledger.filter(pl.col("entry_type") == "overdraft")["amount"].sum()
    rows = html["umbrella"].split('class="data items-table"')[1].split("</table>")[0]
    cells = re.findall(r"<tr data-date[^>]*>(.*?)</tr>", rows)
    overdraft = sum(D(re.findall(r"<td[^>]*>(.*?)</td>", c)[9]) for c in cells)
    assert overdraft == uncovered == D("660.418520")


def test_the_90_day_summary_counts_products_and_users(tables, html):
    start = AS_OF - timedelta(days=89)
    for account in ACCOUNTS:
        used = tables["usage_daily"].filter(
            (pl.col("account_id") == account) & (pl.col("date") >= start) & (pl.col("events") > 0)
        )
        charged = tables["charges"].filter(
            (pl.col("account_id") == account) & (pl.col("date") >= start)
        )
        products = set(used["product_code"]) | set(charged["product_code"])
        users = (
            tables["usage_by_user_daily"]
            .filter((pl.col("account_id") == account) & (pl.col("date") >= start))["user_id"]
            .n_unique()
        )
        assert f'data-products-90d="{len(products)}" data-users-90d="{users}"' in html[account]
        assert f"{len(products)} products" in text_of(html[account])


def test_names_restrictions_and_alerts_read_as_words(html):
    text = {a: text_of(html[a]) for a in html}
    assert "AVEVA Data Hub" in text["umbrella"] and "Design Suite" in text["acme"]
    grant = html["initech"].split('data-grant="G-INITECH-REPL-10"')[1].split("</tr>")[0]
    assert "AVEVA Data Hub, AVEVA Connect API" in grant  # products = ADH;API
    assert "all products" in html["initech"].split('data-grant="G-INITECH-2026-001"')[1]
    for page in (html[name] for name in html if name != "index"):
        shown = text_of(page.split('class="card alerts"')[1].split("</section>")[0])
        assert "user_limit_exceeded" not in shown and ".000000" not in shown
    assert "6 users in the period, limit 5" in text["acme"]
    assert "User limit exceeded" in text["acme"]
    # the cloud_credit forecast of 09-01 is over: that currency expired
    depletion = html["acme"].split('data-kind="depletion_forecast"')[1].split("</tr>")[0]
    assert '<span class="state">over</span>' in depletion
    overdraft = html["umbrella"].split('data-kind="overdraft"')[1].split("</tr>")[0]
    assert '<span class="state">active</span>' in overdraft


def test_reports_are_deterministic(demo_out, html, tmp_path):
    again = write_reports(
        demo_out,
        account="umbrella",
        as_of=None,
        window="3m",
        since=None,
        to_path=tmp_path / "u.html",
        rate_plans=RATE_PLANS,
    )
    assert again[0].read_text(encoding="utf-8") == html["umbrella"]


# -- in Chromium ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        message = "chromium is not installed (bash .ci/setup-chromium.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def run_chromium(
    chromium: str, tmp_path: Path, url: str, *extra: str
) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


PROBE = """<script>
(function () {
  var width = document.documentElement.clientWidth;
  function right(el) { return el.getBoundingClientRect().right; }
  var out = {
    width: width,
    scrollWidth: document.documentElement.scrollWidth,
    h1Lines: Math.round(document.querySelector("h1").getBoundingClientRect().height /
      parseFloat(getComputedStyle(document.querySelector("h1")).lineHeight)),
    tilesRight: Math.max.apply(null, [].map.call(document.querySelectorAll(".tile"), right)),
    donutRight: Math.max.apply(null, [].map.call(document.querySelectorAll(".donut"), right)),
    range: document.querySelector("main").getAttribute("data-range"),
    shown3m: document.querySelectorAll(".items-table tbody tr:not([hidden])").length
  };
  window.flexbatchShow("1m");
  out.shown1m = document.querySelectorAll(".items-table tbody tr:not([hidden])").length;
  out.visibleBlocks = [].filter.call(document.querySelectorAll(".r"), function (el) {
    return getComputedStyle(el).display !== "none"; }).map(function (el) {
    return el.className; });
  out.csv = window.flexbatchCsv();
  var top = window.parent.document;  // the probe page around the frame (same origin)
  var pre = top.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  top.body.appendChild(pre);
})();
</script>"""


def probe(chromium: str, tmp_path: Path, page: Path, width: int) -> dict:
    """Layout facts and the script's results, from the page plus a probe at its end,
    shown in a frame ``width`` px wide (a headless window is at least 500 px wide)."""
    framed = page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>")
    copy = tmp_path / f"probe-{width}-{page.name}"
    copy.write_text(
        '<!DOCTYPE html><html><body style="margin:0"><iframe style="border:0;'
        f'width:{width}px;height:1200px" srcdoc="{escape(framed)}"></iframe></body></html>'
    )
    dom = run_chromium(
        chromium, tmp_path, copy.as_uri(), "--dump-dom", f"--window-size={max(width, 600)},1300"
    ).stdout
    return json.loads(unescape(dom.split('<pre id="probe">')[1].split("</pre>")[0]))


@pytest.mark.parametrize("width", [1280, 420])
def test_nothing_overflows_and_the_range_switch_and_csv_work(
    chromium, reports, tables, tmp_path, width
):
    for account in ACCOUNTS:
        facts = probe(chromium, tmp_path, reports[account], width)
        assert facts["width"] == width
        assert facts["scrollWidth"] <= width, (account, facts)  # no sideways page
        assert facts["h1Lines"] == 1  # the title is not split
        assert facts["tilesRight"] <= width and facts["donutRight"] <= width
        mine = tables["charges"].filter(pl.col("account_id") == account)
        items = mine.group_by("date", "product_code", "scope_id", "plan_id").agg(
            pl.col("credits").sum()
        )
        start = window_start(AS_OF, "1m", None)
        assert facts["range"] == "3m" and facts["shown3m"] == items.height
        in_month = items.filter(pl.col("date") >= start)
        assert facts["shown1m"] == in_month.height
        assert facts["visibleBlocks"] and all("r-1m" in c for c in facts["visibleBlocks"])
        rows = list(csv.DictReader(io.StringIO(facts["csv"])))
        assert len(rows) == in_month.height
        assert {r["account_id"] for r in rows} == {account}
        assert min(r["date_utc"] for r in rows) >= start.isoformat()
        assert sum(D(r["credits"]) for r in rows) == in_month["credits"].sum()


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and every 4th RGB pixel of every 4th row of an 8-bit PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat = 8, b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, up_left = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
                line[i] = (line[i] + predictor) & 0xFF
        rows.append(bytes(line))
        previous = line
    pixels = [row[x : x + 3] for row in rows[::4] for x in range(0, stride, bpp * 4)]
    return width, height, pixels


RED = bytes((0xDC, 0x26, 0x26))  # charts.RED: the overdraft ring and line
BLUE = bytes((0x25, 0x63, 0xEB))


@pytest.mark.parametrize("width", [1280, 420])
def test_screenshots_are_not_blank_and_show_the_overdraft(chromium, reports, tmp_path, width):
    counts = {}
    for account in ACCOUNTS:
        shot = tmp_path / f"{account}-{width}.png"
        result = run_chromium(
            chromium,
            tmp_path,
            reports[account].as_uri(),
            f"--screenshot={shot}",
            f"--window-size={width},1800",
        )
        assert shot.exists(), result.stderr[-2000:]
        w, h, pixels = png_pixels(shot)
        assert (w, h) == (width, 1800)
        found = Counter(pixels)
        assert len(found) > 100  # text, tiles, charts: not a blank page
        assert found.most_common(1)[0][1] / len(pixels) < 0.9
        assert found[BLUE] > 20  # the used arc of the donut
        counts[account] = found[RED]
    # the overdrawn account's first screen is marked red (ring, line, tiles); the
    # ordinary account has no red
    assert counts["umbrella"] > 200 and counts["umbrella"] > 5 * counts["initech"]


def test_print_layout_renders_to_pdf(chromium, reports, tmp_path, html):
    assert "@media print" in html["umbrella"]
    pdf = tmp_path / "umbrella.pdf"
    run_chromium(
        chromium,
        tmp_path,
        reports["umbrella"].as_uri(),
        f"--print-to-pdf={pdf}",
        "--no-pdf-header-footer",
    )
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and data.count(b"/Type /Page") >= 3


def test_the_html_makes_no_network_request(chromium, reports, html, tmp_path):
    for page in html.values():
        lowered = page.lower()
        assert "http:" not in lowered and "https:" not in lowered
        style = lowered.split("<style>")[1].split("</style>")[0]
        assert "url(" not in style and "@import" not in style and " src=" not in lowered
        assert lowered.count("<script") == lowered.count("<script>")  # inline only
        for href in lowered.split('href="')[1:]:
            target = href.split('"', 1)[0]
            assert "/" not in target and ":" not in target, target  # local report files only
    for account in ACCOUNTS:
        assert page_requests(chromium, tmp_path, reports[account]) == []


def page_requests(chromium: str, tmp_path: Path, page: Path) -> list[str]:
    """URLs a page asked the network for, from Chromium's NetLog: the browser's own
    background requests have no initiator origin, a page's requests have one."""
    log = tmp_path / f"{page.stem}.netlog.json"
    run_chromium(chromium, tmp_path, page.as_uri(), f"--log-net-log={log}", "--dump-dom")
    netlog = json.loads(log.read_text(encoding="utf-8"))
    names = {code: name for name, code in netlog["constants"]["logEventTypes"].items()}
    return [
        event["params"]["url"]
        for event in netlog["events"]
        if names.get(event["type"]) == "URL_REQUEST_START_JOB"
        and "url" in event.get("params", {})
        and event["params"].get("initiator") != "not an origin"
    ]


def test_the_network_check_does_see_a_page_request(chromium, tmp_path):
    page = tmp_path / "bad.html"
    page.write_text('<img src="http://example.invalid/x.png">', encoding="utf-8")
    assert page_requests(chromium, tmp_path, page) == ["http://example.invalid/x.png"]


# -- hostile ids, arguments ----------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_out(tmp_path_factory) -> Path:
    """One day of usage and a grant for accounts whose ids are paths and markup."""
    base = tmp_path_factory.mktemp("hostile")
    inp, out = base / "in", base / "out"
    write_plans(
        inp,
        plan_toml(
            "P",
            algorithm="sum",
            chargeable="resource",
            billing_period="day",
            meter="m",
            tiers="[ { above = 0, price = 1 } ]",
        ),
    )
    write_usage(
        inp,
        DAY,
        [
            event("2026-09-01T10:00:00", account=name, meter="m", resource="r", quantity=1.0)
            for name in HOSTILE
        ],
    )
    write_grants(
        inp,
        [
            {"grant_id": f"G{i}", "account_id": name, "currency": "flex_credit",
             "amount": "10", "effective_on": "2026-09-01"}
            for i, name in enumerate(HOSTILE)
            if "," not in name
        ],
    )  # fmt: skip
    pipeline.backfill(Paths(inp, out), DAY, DAY)
    return out


def test_file_names_never_leave_the_folder_and_are_unique(hostile_out, tmp_path):
    folder = tmp_path / "reports"
    written = write_reports(
        hostile_out, account=None, as_of=None, window="1m", since=None, to_path=folder
    )
    assert len(written) == len(HOSTILE) + 1
    assert len({p.name for p in written}) == len(written)
    for path in written:
        assert path.resolve().parent == folder.resolve()
        assert path.name == Path(path.name).name and not path.name.startswith(".")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]
    assert report_file_name("../../escaped").startswith("escaped-")
    assert report_file_name("a/b") != report_file_name("a-b")


def test_every_value_is_html_escaped(hostile_out, tmp_path):
    folder = tmp_path / "reports"
    written = write_reports(
        hostile_out, account=None, as_of=None, window="1m", since=None, to_path=folder
    )
    texts = [p.read_text(encoding="utf-8") for p in written]
    joined = "".join(texts)
    assert "<script>alert" not in joined
    assert escape(HOSTILE[0]) in joined
    script_report = next(
        t for p, t in zip(written, texts, strict=True) if p.name.startswith("script-alert")
    )
    assert f'data-account="{escape(HOSTILE[0])}"' in script_report
    assert "<h1 " in script_report and "&lt;script&gt;" in script_report
    assert script_report.count("<script>") == 1  # the page's own, constant script


def test_single_account_report_to_a_file(hostile_out, tmp_path, flexbatch):
    target = tmp_path / "one.html"
    result = flexbatch(
        "report", "--account", "a/b", "--output", str(hostile_out), "--to", str(target)
    )
    assert result.exit_code == 0, result.stderr
    assert target.exists() and 'data-account="a/b"' in target.read_text(encoding="utf-8")


def test_the_cli_takes_product_names_from_input(demo_out, tmp_path, flexbatch, monkeypatch):
    monkeypatch.delenv("FLEXBATCH_INPUT", raising=False)
    target = tmp_path / "u.html"
    args = ("report", "--account", "umbrella", "--output", str(demo_out), "--to", str(target))
    assert flexbatch(*args).exit_code == 0
    assert "AVEVA Data Hub" not in target.read_text(encoding="utf-8")  # codes without IN
    assert flexbatch(*args, "--input", str(RATE_PLANS.parent)).exit_code == 0
    assert "AVEVA Data Hub" in target.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"account": "nobody"}, "--account"),
        ({"as_of": date(2026, 12, 25)}, "not a processed day"),
        ({"window": "custom"}, "--since"),
        ({"window": "custom", "since": date(2027, 1, 1)}, "after"),
        ({"since": date(2026, 9, 1)}, "--window custom"),
    ],
)
def test_bad_report_arguments_are_config_errors(demo_out, tmp_path, kwargs, message):
    arguments = {"account": "acme", "as_of": None, "window": "3m", "since": None}
    arguments.update(kwargs)
    with pytest.raises(ConfigError, match=message):
        write_reports(demo_out, to_path=tmp_path / "r.html", **arguments)


def test_window_start():
    assert window_start(date(2026, 10, 31), "3m", None) == date(2026, 8, 1)
    assert window_start(date(2026, 10, 31), "1m", None) == date(2026, 10, 1)
    assert window_start(date(2026, 3, 31), "1m", None) == date(2026, 3, 1)
    assert window_start(date(2026, 10, 31), "12m", None) == date(2025, 11, 1)
    assert window_start(date(2026, 10, 31), "custom", date(2026, 9, 15)) == date(2026, 9, 15)


def test_a_custom_range_is_the_one_shown_first(demo_out, tmp_path):
    [path] = write_reports(
        demo_out,
        account="globex",
        as_of=None,
        window="custom",
        since=date(2026, 10, 10),
        to_path=tmp_path / "g.html",
    )
    page = path.read_text(encoding="utf-8")
    assert 'data-range="custom"' in page and 'data-from="2026-10-10"' in page


def test_an_earlier_as_of_day_shows_that_days_balances(demo_out, tables, tmp_path):
    day = date(2026, 9, 30)
    [path] = write_reports(
        demo_out, account="globex", as_of=day, window="1m", since=None, to_path=tmp_path / "g.html"
    )
    page = path.read_text(encoding="utf-8")
    row = (
        tables["balances"]
        .filter((pl.col("date") == day) & (pl.col("account_id") == "globex"))
        .row(0, named=True)
    )
    assert (
        f'data-metric="available" data-currency="flex_token" data-value="{row["available"]}"'
        in page
    )
    assert "As of</dt><dd>2026-09-30" in page
