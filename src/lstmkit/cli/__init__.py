"""The `lstmkit` command."""
