"""``flexbatch report``: a self-contained HTML balance report per account.

One file per account, readable offline and deterministic: the CSS and a small constant
script are inline, the charts are inline SVG built by :mod:`flexbatch.serving.charts`, and
the page references no URL, so opening it makes no network request. As of one processed
day it shows:

* a summary of the last 90 days (products and users active, credits charged) and the
  alerts, each marked active or over on the as-of day, in words;
* per credit currency: tiles (available, overdraft, used, purchased, expiring within
  90 days, expired, usage per day with its uncovered part, and the state in words: in
  overdraft since, expired on, used up on, runs out on), a donut of available / used /
  expired with the 20 % band and a red outer ring for overdraft, and the burndown with the
  overdraft below zero, the forecast and the grants, transfers and expiries marked;
* usage over time by product (stacked per day, or per month past three months), usage by
  product and by user over 90 days, the grants held (expiry, which products they may pay
  for), token events with the other account of a transfer, and the itemised usage.

A switch in the page shows 1, 3, 6 or 12 months or everything (the charts are rendered
for each range; the script shows one and hides the rows before its first day), and a
button downloads the itemised rows shown as CSV, in UTC days. ``@media print`` lays the
page out for paper. Every value is HTML-escaped; file names are the account id reduced to
``[A-Za-z0-9_-]`` plus 8 hex digits of its SHA-256 (``../x`` never leaves the folder).

Modules: :mod:`.build` (views, files), :mod:`.data` (queries), :mod:`.status` (states in
words), :mod:`.page` and :mod:`.sections` (HTML), :mod:`.index`, :mod:`.fmt`,
:mod:`.style`, :mod:`.script`.
"""

from flexbatch.serving.report.build import (
    INDEX_NAME,
    WINDOWS,
    product_names,
    report_file_name,
    window_start,
    write_reports,
)

__all__ = [
    "INDEX_NAME",
    "WINDOWS",
    "product_names",
    "report_file_name",
    "window_start",
    "write_reports",
]
