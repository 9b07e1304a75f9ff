"""The first admin: a one-time code printed at first start, redeemed with /setup CODE."""
