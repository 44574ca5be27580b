"""PySide6 user interface. Calls services only; never holds an ORM session or writes SQL."""
