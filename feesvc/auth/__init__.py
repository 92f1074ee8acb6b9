"""API tokens, roles and the guards that enforce who may do what."""
