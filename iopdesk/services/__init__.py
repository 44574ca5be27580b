"""The domain layer. Every public call takes the acting user, checks permission, writes the
audit row and runs in one transaction. Results are plain or detached objects, never sessions."""
