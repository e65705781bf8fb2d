"""The migrations build the schema the models describe, on SQLite and PostgreSQL: a table,
column or index added to (or dropped from) `storage/tables.py` without its migration fails
here, not on an operator's database at upgrade time."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel


def test_the_migrated_database_matches_the_models(database):
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []
