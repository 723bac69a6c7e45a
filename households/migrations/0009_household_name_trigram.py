"""A trigram index for searching households by name on PostgreSQL (issue 14).

Django's `icontains` is `UPPER(head_name) LIKE UPPER('%q%')`; this GIN index on `UPPER(head_name)`
serves it for any query of three characters or more. SQLite has no such index and needs none.
`pg_trgm` is a trusted extension (PostgreSQL ≥ 13): the database's owner may create it.
"""

from typing import Any

from django.db import migrations


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS household_head_name_trgm "
        "ON households_household USING gin (UPPER(head_name) gin_trgm_ops)"
    )


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS household_head_name_trgm")


class Migration(migrations.Migration):
    dependencies = [("households", "0008_chinese_labels")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
