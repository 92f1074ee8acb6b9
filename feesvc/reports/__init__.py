"""Management reports: aging of overdue debt, collection rate (收缴率) with old arrears, arrears by cause."""
