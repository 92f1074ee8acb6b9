"""Arrears: why owners don't pay, and what to do about it."""
