"""ossmedia device package."""
