"""Plain data the report writers read, one module per kind of report; services build it."""
