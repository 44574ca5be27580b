"""Main-window pages."""
