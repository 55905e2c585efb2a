"""User records: lookups, creation, roles and disabling (shared by the API, admin and CLI)."""
