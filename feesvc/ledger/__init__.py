"""The unit ledger: append-only entries in integer fen. Downstream areas read it; it knows none of them."""
