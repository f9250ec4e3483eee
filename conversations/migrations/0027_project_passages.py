"""Knowledge passages (ProjectPassage) and the full-text index that projects/retrieval.py reads.

As migration 0013 does for messages: SQLite has an FTS5 table with one row per passage (rowid = the
passage's id, the project as a token "p42" so a search stays inside one project), kept in step by
triggers; PostgreSQL has a generated tsvector column with a GIN index. Both tokenize the same way
as the messages' index.
"""

import django.db.models.deletion
from django.db import migrations, models

SQLITE_INSERT = """INSERT INTO conversations_passage_search (rowid, body, project)
    VALUES ({row}.id, {row}.text, 'p' || {row}.project_id)"""
SQLITE_FORWARD = [
    """CREATE VIRTUAL TABLE conversations_passage_search USING fts5(
        body, project, tokenize = 'unicode61 remove_diacritics 0', prefix = '2 3'
    )""",
    f"""CREATE TRIGGER conversations_passage_search_insert AFTER INSERT ON conversations_projectpassage
    BEGIN
        {SQLITE_INSERT.format(row="NEW")};
    END""",
    f"""CREATE TRIGGER conversations_passage_search_update AFTER UPDATE OF text, project_id
        ON conversations_projectpassage BEGIN
        DELETE FROM conversations_passage_search WHERE rowid = OLD.id;
        {SQLITE_INSERT.format(row="NEW")};
    END""",
    """CREATE TRIGGER conversations_passage_search_delete AFTER DELETE ON conversations_projectpassage
    BEGIN
        DELETE FROM conversations_passage_search WHERE rowid = OLD.id;
    END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS conversations_passage_search_insert",
    "DROP TRIGGER IF EXISTS conversations_passage_search_update",
    "DROP TRIGGER IF EXISTS conversations_passage_search_delete",
    "DROP TABLE IF EXISTS conversations_passage_search",
]

PG_SEPARATORS = "<>&@/\\.:_=?#"  # as in 0013: words inside addresses, paths and tags are found
POSTGRES_FORWARD = [
    f"""ALTER TABLE conversations_projectpassage ADD COLUMN search_vector tsvector
        GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, translate(
            text, '{PG_SEPARATORS}', '{" " * len(PG_SEPARATORS)}'
        ))) STORED""",
    """CREATE INDEX conversations_projectpassage_search
        ON conversations_projectpassage USING gin (search_vector)""",
]
POSTGRES_BACKWARD = ["ALTER TABLE conversations_projectpassage DROP COLUMN IF EXISTS search_vector"]


def _run(statements: dict[str, list[str]]):
    def run(apps, schema_editor) -> None:
        for statement in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0026_workbench_call_kinds"),
    ]

    operations = [
        migrations.CreateModel(
            name="ProjectPassage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("position", models.PositiveIntegerField()),
                ("page", models.PositiveIntegerField(blank=True, null=True)),
                ("text", models.TextField()),
                (
                    "file",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="passages",
                        to="conversations.projectfile",
                    ),
                ),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="conversations.project",
                    ),
                ),
            ],
            options={
                "ordering": ["file", "position"],
                "constraints": [
                    models.UniqueConstraint(fields=("file", "position"), name="one_passage_per_position")
                ],
            },
        ),
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        ),
    ]
