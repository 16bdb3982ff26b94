"""Relational storage of the school: tables, engine, migrations."""
