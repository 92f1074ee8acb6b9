"""Estates, buildings, units, owners and who owned which unit when."""
