"""Tool runs and agent logs, per conversation (the seeds' agent plans)."""
