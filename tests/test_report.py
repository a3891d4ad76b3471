"""`flexbatch report`: self-contained HTML rendered in a real headless Chromium (Debian's
`chromium`, installed by .ci/setup-chromium.sh), screenshotted and checked for its charts
and for numbers matching the balances table; no network request; file names that cannot
leave the target folder; every value HTML-escaped.

Chromium tests skip when the browser is absent and CI is unset, and fail when CI is set."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from datetime import date
from decimal import ROUND_HALF_EVEN
from decimal import Decimal as D
from html import escape
from pathlib import Path

import polars as pl
import pytest
from test_catalog import demo_output, scan

from flexbatch.config import Paths
from flexbatch.errors import ConfigError
from flexbatch.job import pipeline
from flexbatch.serving.report import report_file_name, window_start, write_reports

from helpers import event, plan_toml, write_grants, write_plans, write_usage

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


@pytest.fixture(scope="session")
def demo_out(tmp_path_factory) -> Path:
    return demo_output(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def reports(demo_out, tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("reports") / "all"
    return write_reports(
        demo_out, account=None, as_of=None, window="3m", since=None, to_path=folder
    )


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


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and the RGB(A) pixels of an 8-bit PNG (enough for screenshots)."""
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


def money(value: D) -> str:
    return f"{value.quantize(D('0.01'), rounding=ROUND_HALF_EVEN):,.2f}"


def test_report_renders_in_chromium_with_its_charts(chromium, reports, tmp_path):
    acme = next(p for p in reports if p.name.startswith("acme-"))
    shot = tmp_path / "acme.png"
    result = run_chromium(
        chromium, tmp_path, acme.as_uri(), f"--screenshot={shot}", "--window-size=1280,2000"
    )
    assert shot.exists(), result.stderr[-2000:]
    width, height, pixels = png_pixels(shot)
    assert (width, height) == (1280, 2000)
    counts = Counter(pixels)
    assert len(counts) > 200  # text, charts, tiles: not a blank page
    assert counts.most_common(1)[0][1] / len(pixels) < 0.9
    assert counts[bytes((0x25, 0x63, 0xEB))] > 100  # the blue of the burndown and the donut
    assert counts[bytes((0x16, 0xA3, 0x4A))] > 100  # the green available arc (band green)
    dom = run_chromium(chromium, tmp_path, acme.as_uri(), "--dump-dom").stdout
    assert dom.count("<svg") >= 4  # per currency: donut + burndown; usage by product bars
    assert 'data-account="acme"' in dom
    assert "Burndown" in dom and "Usage by product" in dom and "Token events" in dom


def test_numbers_match_the_balances_table_on_the_as_of_day(demo_out, reports):
    balances = scan(demo_out, "balances").filter(pl.col("date") == AS_OF)
    assert balances.height > 0
    by_account = {p.name.rsplit("-", 1)[0]: p.read_text(encoding="utf-8") for p in reports}
    for row in balances.iter_rows(named=True):
        html = by_account[row["account_id"]]
        currency = row["currency"]
        for metric, column in (
            ("available", "available"),
            ("used", "used_total"),
            ("purchased", "purchased_total"),
            ("expiring_90d", "expiring_90d"),
        ):
            tile = f'data-metric="{metric}" data-currency="{currency}" data-value="{row[column]}"'
            assert tile in html, (row["account_id"], currency, metric)
            assert f'<div class="value">{money(row[column])}</div>' in html
        section = html.split(f'<section class="card currency" data-currency="{currency}">')[1]
        assert f'data-band="{row["band"]}"' in section.split("</section>")[0]
        assert f"{row['available_pct']} %" in section  # the donut's centre


def test_the_html_makes_no_network_request(chromium, reports, tmp_path):
    for path in reports:
        html = path.read_text(encoding="utf-8")
        lowered = html.lower()
        assert "http:" not in lowered and "https:" not in lowered
        assert "//" not in "".join(lowered.split("src=")[1:])
        assert "url(" not in lowered and "@import" not in lowered and "<script" not in lowered
        for href in lowered.split('href="')[1:]:
            target = href.split('"', 1)[0]
            assert "/" not in target and ":" not in target, target  # local report files only
    acme = next(p for p in reports if p.name.startswith("acme-"))
    assert page_requests(chromium, tmp_path, acme) == []


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
    assert "<script" not in joined
    assert escape(HOSTILE[0]) in joined
    script_report = next(
        t for p, t in zip(written, texts, strict=True) if p.name.startswith("script-alert")
    )
    assert f'data-account="{escape(HOSTILE[0])}"' in script_report
    assert "<h1 " in script_report and "&lt;script&gt;" in script_report


def test_single_account_report_to_a_file(hostile_out, tmp_path, flexbatch):
    target = tmp_path / "one.html"
    result = flexbatch(
        "report", "--account", "a/b", "--output", str(hostile_out), "--to", str(target)
    )
    assert result.exit_code == 0, result.stderr
    assert target.exists() and 'data-account="a/b"' in target.read_text(encoding="utf-8")


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


def test_an_earlier_as_of_day_shows_that_days_balances(demo_out, tmp_path):
    day = date(2026, 9, 30)
    [path] = write_reports(
        demo_out, account="globex", as_of=day, window="1m", since=None, to_path=tmp_path / "g.html"
    )
    html = path.read_text(encoding="utf-8")
    row = (
        scan(demo_out, "balances")
        .filter((pl.col("date") == day) & (pl.col("account_id") == "globex"))
        .row(0, named=True)
    )
    assert (
        f'data-metric="available" data-currency="flex_token" data-value="{row["available"]}"'
        in html
    )
    assert "As of</dt><dd>2026-09-30" in html
