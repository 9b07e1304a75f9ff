"""Ask the committee: a resident's question goes to their community's staff as a card
with a reply button; the answer comes back through the bot, without naming who answered
unless they chose to."""
