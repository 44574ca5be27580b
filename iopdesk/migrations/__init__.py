"""Alembic environment and versions; `runner` applies them."""
