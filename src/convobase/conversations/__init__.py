"""Conversations: create, read, update, delete, list (keyset, filters), the active one."""
