"""Emergency alerts: send at top priority, acknowledge, chase, escalate, all-clear."""
