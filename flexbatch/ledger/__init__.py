"""The credit ledger: expire, grant, transfer, burn; balances, forecast, alerts."""
