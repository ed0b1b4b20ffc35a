"""ossmedia simulator package."""
