"""Limitation (诉讼时效) watched per owner: which periods expire soon, the written acknowledgements
and legal filings that interrupt it, and the notice a reminder run owes an owner in time.

The clock itself (three years per billing period, interruptions, expiry) is
``feesvc.evidence.limitation``; the events are ``feesvc.ledger.limitation``.
"""
