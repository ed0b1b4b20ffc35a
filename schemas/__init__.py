"""ossmedia schemas package."""
