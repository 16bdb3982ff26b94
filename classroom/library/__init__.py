"""The library service (its own tables, rules and events)."""
