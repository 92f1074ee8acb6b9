"""feesvc: property-fee collection and arrears management."""
