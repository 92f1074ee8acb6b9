"""The audit log: every change, who made it, when, and in which request."""
