"""Messages: one row each, with branches (parent_id), edit history and feedback."""
