"""The provider key vault: users' own LLM provider keys, encrypted at rest (AES-256-GCM)."""
