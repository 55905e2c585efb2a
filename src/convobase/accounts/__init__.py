"""Account life cycle: guests, guest-to-account merges, deletion and pruning."""
