"""SQLAlchemy 2 models, the engine, and repositories; Alembic migrations in migrations/."""
