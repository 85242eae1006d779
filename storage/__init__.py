"""Storage: SQLAlchemy models, typed query functions and Alembic migrations."""
