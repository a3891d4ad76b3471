"""Closing the books (SPEC §8): monthly statements, the close, corrections booked forward.

One concept per module: :mod:`months` (month arithmetic and parsing), :mod:`frames`,
:mod:`statements` and :mod:`corrections` (pure functions over frames, running the SQL of
``sql/books``), :mod:`schemas` (the two tables' Pandera models), :mod:`ledger_files`
(reading and writing the books' files in OUT), :mod:`commit` (the close's atomic
publication), :mod:`issued` (what a closed month exports, frozen), :mod:`close` (the
close and its preconditions), :mod:`settle` (what every writing command does after its
days), :mod:`basis` (what an open month's statements were computed from, so that
``status`` need not recompute them), :mod:`state` (what ``status`` says),
:mod:`commands` (the entry points) and
:mod:`month_end` (the demo's month-end).
"""
