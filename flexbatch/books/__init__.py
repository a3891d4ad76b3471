"""Closing the books (SPEC §8): monthly statements, the close, corrections booked forward.

One concept per module: :mod:`months` (month arithmetic and parsing), :mod:`statements`
and :mod:`corrections` (pure functions over frames, running ``sql/books``),
:mod:`ledger_files` (reading and writing the books' files in OUT), :mod:`commit` (the
close's atomic publication), :mod:`issued` (what a closed month exports, frozen),
:mod:`close` (the command and its preconditions), :mod:`settle` (what every writing
command does after its days) and :mod:`state` (what ``status`` and the report say).
"""
