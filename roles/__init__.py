"""Roles of the collection: each a small package with one public @deploy and typed defaults."""
