"""Installment plans (分期) for a unit's overdue charges."""
