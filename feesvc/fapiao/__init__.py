"""Fapiao data: what a company's e-fapiao system needs to invoice each payment, per day."""
