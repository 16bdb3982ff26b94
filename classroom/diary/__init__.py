"""The diary service (its own tables, rules and events)."""
