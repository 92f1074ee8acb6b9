"""Bank transfers: statement files imported, each credit matched to a unit and owner, posted once."""
