"""Pure domain logic: no I/O, no httpx, no SQLAlchemy."""
