"""The payoff (结清金额): what pays a unit's owner off on a day, late fee accrued to that day included."""
