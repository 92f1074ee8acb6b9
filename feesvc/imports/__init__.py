"""Moving in: the registry and opening balances imported from spreadsheets (.xlsx, .csv)."""
