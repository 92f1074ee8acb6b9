"""Spreadsheet exports (.xlsx) of the ledger and the management reports, for the accountant."""
