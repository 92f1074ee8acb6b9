"""The owner's statement: what is owed, why, and how each amount was computed. Reads the ledger only."""
