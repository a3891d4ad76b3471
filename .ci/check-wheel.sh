#!/usr/bin/env bash
# The package as a user installs it: build the wheel, install it into a clean virtual
# environment, check it carries every SQL file and the sample, then run the job from a
# folder that is not the repository (so nothing can be found through the checkout):
# the demo, a backfill of a copy of the sample, sql over a helper view, report --all.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# One clean venv: its pip builds the wheel (build requirements in pip's own isolated build
# environment, nothing installed here), then the wheel is installed into it. The build
# writes the repository's egg-info, as editable installs do beside it (.ci/run): one at a
# time (flock on the repository folder).
python3 -m venv "$work/venv"
flock "$repo" "$work/venv/bin/pip" wheel --no-deps --disable-pip-version-check \
    --wheel-dir "$work/dist" "$repo" > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
wheel="$(ls "$work"/dist/flexbatch-*.whl)"

# every SQL file and every sample file of the repository is in the wheel
"$work/venv/bin/python" - "$wheel" "$repo" <<'PY'
import sys, zipfile
from pathlib import Path
wheel, repo = Path(sys.argv[1]), Path(sys.argv[2])
names = set(zipfile.ZipFile(wheel).namelist())
want = {f"flexbatch/sql/{p.relative_to(repo / 'sql').as_posix()}" for p in (repo / "sql").rglob("*.sql")}
want |= {
    f"flexbatch/sample/{p.relative_to(repo / 'data').as_posix()}"
    for p in (repo / "data").rglob("*")
    if p.is_file() and p.suffix in {".parquet", ".csv", ".toml"}
}
missing = sorted(want - names)
assert not missing, f"not in the wheel: {missing}"
print(f"wheel: {wheel.name} carries {len(want)} SQL and sample files")
PY

"$work/venv/bin/pip" install --quiet --disable-pip-version-check "$wheel"
fb="$work/venv/bin/flexbatch"
cd "$work"  # not the repository
"$fb" demo --output "$work/demo" > "$work/demo.log"
grep -q "outputs: $work/demo" "$work/demo.log" || { cat "$work/demo.log"; exit 1; }
cp -r "$repo/data" "$work/sample copy"
"$fb" backfill --from 2026-09-01 --to 2026-09-03 --input "$work/sample copy" --output "$work/out"
"$fb" sql "select count(*) as products from usage_by_product_90d" --output "$work/out" --format csv
"$fb" status --input "$work/sample copy" --output "$work/out" --format json > /dev/null
"$fb" report --all --output "$work/out" --to "$work/reports" > /dev/null
test -s "$work/reports/index.html"
# the library (SPEC §11), as a notebook calls it: typed results, nothing printed
"$work/venv/bin/python" - "$work/sample copy" "$work/lib-out" > "$work/lib.log" 2>&1 <<'PY' \
    || { cat "$work/lib.log"; exit 1; }
import sys
from datetime import date
import flexbatch
summary = flexbatch.backfill("2026-09-01", "2026-09-02", sys.argv[1], sys.argv[2])
assert summary.processed == (date(2026, 9, 1), date(2026, 9, 2)), summary
frame = flexbatch.sql("select sum(credits) as credits from charges", sys.argv[2])
assert frame["credits"][0] == summary.credits, (frame, summary.credits)
assert [d["state"] for d in flexbatch.status(sys.argv[1], sys.argv[2])] == ["fresh", "fresh"]
PY
test ! -s "$work/lib.log" || { echo "the library printed:"; cat "$work/lib.log"; exit 1; }
echo "wheel: demo, backfill, sql, status, report --all and flexbatch.backfill() ran from $work"
