"""`make demo`: the real bot against the fake Bot API server, a seeded story, and a web page
that shows each persona's chats as a phone would (see ``__main__.py``)."""
