"""The cashier desk: payments, allocation, receipts, voids, refunds and the daily cash-up."""
