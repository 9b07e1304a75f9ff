"""Group chats: registering them, linking them to a team or an area, their language;
and following removals, blocks and migrations to supergroups."""
