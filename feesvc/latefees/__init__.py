"""Late fees (违约金): the accrual run, the court-likely figure beside them, and waivers."""
