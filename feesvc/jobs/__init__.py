"""Scheduled runs on a PostgreSQL job queue (Procrastinate): schedules as data, a job per estate
and run kind, retried on transient faults and taken over from dead workers (issue 21)."""
