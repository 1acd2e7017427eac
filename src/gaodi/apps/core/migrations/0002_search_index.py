"""The full-text search table: SQLite FTS5 or PostgreSQL tsvector, depending on the database."""

from django.db import migrations


def create(apps, schema_editor):
    from gaodi.apps.core.search import create_tables

    create_tables(schema_editor)


def drop(apps, schema_editor):
    from gaodi.apps.core.search import drop_tables

    drop_tables(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
