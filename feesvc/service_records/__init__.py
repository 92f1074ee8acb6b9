"""Service records: owners' complaints with their rectification clock, and monthly service activity."""
