"""ossmedia cloud package."""
