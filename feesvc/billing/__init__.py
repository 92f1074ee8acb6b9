"""Billing runs: one charge per unit, item and period, issued once."""
