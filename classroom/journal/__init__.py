"""The journal service (its own tables, rules and events)."""
