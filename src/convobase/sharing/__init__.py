"""Conversation sharing: links (public, read-only) and shares with named users."""
