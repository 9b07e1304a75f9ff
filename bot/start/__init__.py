"""Welcome, language choice, help: what every person meets first."""
