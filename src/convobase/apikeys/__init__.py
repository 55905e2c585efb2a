"""Personal API keys: created with a name and optional expiry, shown once, stored hashed."""
