"""Prepayment (预缴) with its discount tiers: quotes, booking covered periods, taking discounts back."""
