"""Fee standards (收费标准): what a unit is charged, since when, and on what decision."""
