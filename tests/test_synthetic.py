"""The benchmark's synthetic generator (flexbatch.bench.synthetic): the ``skewed`` shape of
the performance issue — Zipf s = 1.3 over the accounts, so one account holds the plurality
of the events; the same 2,000 resource ids in every account; at most 50 users per account —
and the cache keeping the two shapes apart. 20,000 events, well under a second each."""

from __future__ import annotations

import duckdb
import pytest

from flexbatch.bench import ensure_dataset, synthetic
from flexbatch.bench.data import START_DAY

EVENTS = 20_000
ACCOUNTS = 10_000


@pytest.fixture(scope="module")
def skewed(tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("skewed")
    return ensure_dataset(work, EVENTS, days=1, files=2, accounts=ACCOUNTS, shape="skewed")


def _events(dataset) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"create view events as select * from read_parquet('{dataset.usage_glob}')")
    return con


def _account_counts(con) -> list[tuple[str, int]]:
    return con.execute(
        "select account_id, count(*) as events from events group by account_id "
        "order by events desc, account_id"
    ).fetchall()


def test_skewed_top_account_holds_the_plurality_of_the_events(skewed):
    counts = _account_counts(_events(skewed))
    assert sum(n for _, n in counts) == EVENTS
    (top, top_n), (_, second_n) = counts[0], counts[1]
    # Zipf s = 1.3 over 10,000 accounts: P(rank 1) = 1 / H(10000, 1.3) ~ 0.27, rank 2 ~ 0.11
    assert top == "account-000000.tenant.example.com"
    assert top_n > 2 * second_n
    assert 0.24 < top_n / EVENTS < 0.30


def test_default_shape_is_flatter_than_skewed(tmp_path):
    default = ensure_dataset(tmp_path, EVENTS, days=1, files=2, accounts=ACCOUNTS)
    counts = _account_counts(_events(default))
    # log-uniform: account 0 when 10,000 ** u < 2, i.e. u < log 2 / log 10,000 ~ 0.075
    assert counts[0][1] / EVENTS < 0.10


def test_skewed_resource_ids_repeat_across_accounts_and_users_stay_at_most_50(skewed):
    con = _events(skewed)
    (resources, account_resources, shared) = con.execute(
        """
        with per_resource as (
            select resource_id, count(distinct account_id) as accounts
            from events
            where resource_id is not null
            group by resource_id
        )
        select
            (select count(*) from per_resource),
            (select count(distinct (account_id, resource_id)) from events
             where resource_id is not null),
            (select count(*) from per_resource where accounts > 1)
        """
    ).fetchone()
    assert resources <= 2_000
    assert account_resources > resources  # the same id counted in several accounts
    assert shared > 1_000
    users = con.execute(
        "select account_id, count(distinct user_id) as users from events "
        "group by account_id order by users desc"
    ).fetchall()
    assert users[0][1] == 50  # the top account sees all of its 50 users
    assert all(n <= 50 for _, n in users)


def test_skewed_accounts_are_those_of_the_grants(skewed):
    con = _events(skewed)
    grants = str(skewed.input / "grants.csv")
    strays = con.execute(
        "select distinct account_id from events "
        "except select account_id from read_csv(?, header = true)",
        [grants],
    ).fetchall()
    assert strays == []


def test_skewed_shape_is_deterministic(skewed, tmp_path):
    again = synthetic.write_day(
        tmp_path, START_DAY, EVENTS, accounts=ACCOUNTS, files=2, shape="skewed"
    )
    first = sorted((skewed.input / "usage" / f"date={START_DAY}").glob("*.parquet"))
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in first]


def test_shapes_are_cached_apart(skewed):
    work = skewed.root.parent
    default = ensure_dataset(work, EVENTS, days=1, files=2, accounts=ACCOUNTS)
    assert default.root != skewed.root
    assert (default.root / "params.json").exists() and (skewed.root / "params.json").exists()
    assert _account_counts(_events(default)) != _account_counts(_events(skewed))


def test_an_unknown_shape_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown shape 'flat'"):
        synthetic.write_day(tmp_path, START_DAY, 10, shape="flat")


def test_shared_shape_spreads_events_over_many_accounts_and_few_shared_ids(tmp_path):
    # Zipf s = 1.05 over 200,000 accounts: P(rank 1) = 1 / H, H = the sum of k ** -1.05
    # for k to 200,000 ~ 9.72, so the top account holds ~10.3 % and most events fall on
    # other accounts; 3,000 resource and 200 user ids, each shared by many accounts
    events, accounts = 50_000, 200_000
    dataset = ensure_dataset(tmp_path, events, files=1, accounts=accounts, shape="shared")
    con = _events(dataset)
    counts = _account_counts(con)
    assert counts[0][0] == "account-000000.tenant.example.com"
    assert 0.09 < counts[0][1] / events < 0.12
    assert len(counts) > 10_000
    ((resources, users),) = con.execute(
        "select count(distinct resource_id), count(distinct user_id) from events"
    ).fetchall()
    assert (resources, users) == (3000, 200)
    ((grants,),) = duckdb.sql(
        f"select count(distinct account_id) from read_csv('{dataset.input / 'grants.csv'}')"
    ).fetchall()
    assert grants == accounts  # every account holds a grant
