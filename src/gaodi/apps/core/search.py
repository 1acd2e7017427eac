"""Chinese full-text search behind one interface: SQLite FTS5 by default, PostgreSQL full text
under PostgreSQL. Both index the same jieba tokens (Traditional folded to Simplified) made by
gaodi.engines.text, so results agree across databases.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from gaodi.engines import text

FTS_TABLE = "core_search_fts"  # SQLite FTS5 virtual table
PG_TABLE = "core_search_document"  # PostgreSQL table with a generated tsvector


def create_tables(schema_editor) -> None:
    """Called by the core migration: the index table depends on the database vendor."""
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
            "doc_type UNINDEXED, object_id UNINDEXED, body, tokenize = 'unicode61 remove_diacritics 2')"
        )
    elif vendor == "postgresql":
        # Only the stripped tsvector is kept: nothing ranks by position or shows the body, and the
        # table is then less than half the size, which is what broad queries scan (docs/benchmarks.md).
        schema_editor.execute(
            f"CREATE TABLE IF NOT EXISTS {PG_TABLE} ("
            "doc_type varchar(40) NOT NULL, object_id bigint NOT NULL, tsv tsvector NOT NULL, "
            "PRIMARY KEY (doc_type, object_id))"
        )
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {PG_TABLE}_tsv ON {PG_TABLE} USING gin (tsv)")
    else:
        raise RuntimeError(f"search is not implemented for database vendor {vendor!r}")


def drop_tables(schema_editor) -> None:
    table = FTS_TABLE if schema_editor.connection.vendor == "sqlite" else PG_TABLE
    schema_editor.execute(f"DROP TABLE IF EXISTS {table}")


def _table() -> str:
    return FTS_TABLE if connection.vendor == "sqlite" else PG_TABLE


def index(doc_type: str, object_id: int, body: str) -> None:
    """(Re)index one document. Call inside the action's transaction."""
    tokens = text.search_text(body)
    if connection.vendor == "sqlite":
        insert = f"INSERT INTO {FTS_TABLE} (doc_type, object_id, body) VALUES (%s, %s, %s)"  # noqa: S608
    else:
        insert = f"INSERT INTO {PG_TABLE} (doc_type, object_id, tsv) VALUES (%s, %s, strip(to_tsvector('simple', %s)))"  # noqa: S608
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {_table()} WHERE doc_type = %s AND object_id = %s", [doc_type, object_id])  # noqa: S608
        cur.execute(insert, [doc_type, object_id, tokens])


def remove(doc_type: str, object_id: int) -> None:
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {_table()} WHERE doc_type = %s AND object_id = %s",  # noqa: S608
                    [doc_type, object_id])


def _sqlite_match(groups: list[list[str]]) -> str:
    # Every query word must match, either whole or as all of its sub-words (segmentation of the
    # document may have split it differently). Tokens are alphanumeric only, and quoted anyway.
    clauses = []
    for group in groups:
        whole, subs = group[0], group[1:]
        alt = f'"{whole}"'
        if subs:
            alt = f'("{whole}" OR (' + " AND ".join(f'"{s}"' for s in subs) + "))"
        clauses.append(alt)
    return " AND ".join(clauses)


def _pg_tsquery(groups: list[list[str]]) -> str:
    clauses = []
    for group in groups:
        whole, subs = group[0], group[1:]
        alt = f"'{whole}'"
        if subs:
            alt = f"('{whole}' | (" + " & ".join(f"'{s}'" for s in subs) + "))"
        clauses.append(alt)
    return " & ".join(clauses)


def filter_queryset(qs: QuerySet, doc_type: str, query: str) -> QuerySet:
    """Restrict qs to rows whose indexed document matches every word of the query."""
    groups = text.query_groups(query)
    if not groups:
        return qs
    pk = qs.model._meta.pk.column
    if connection.vendor == "sqlite":
        sql = f"SELECT object_id FROM {FTS_TABLE} WHERE doc_type = %s AND {FTS_TABLE} MATCH %s"  # noqa: S608
        params = [doc_type, _sqlite_match(groups)]
    else:
        sql = f"SELECT object_id FROM {PG_TABLE} WHERE doc_type = %s AND tsv @@ to_tsquery('simple', %s)"  # noqa: S608
        params = [doc_type, _pg_tsquery(groups)]
    # Table names are module constants and user text only ever travels as a bound parameter.
    return qs.filter(**{f"{pk}__in": RawSQL(sql, params)})  # noqa: S611
