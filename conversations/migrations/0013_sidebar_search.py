"""Pinned, archived and deleted conversations, and the full-text index that search.py reads.

SQLite: an FTS5 table with one row per text block (rowid = the block's id), kept in step by
triggers, so every way a block is written (a send, a stream's block stop, checkpoints, the final
write, retry's delete, cascades) updates it. PostgreSQL: a generated tsvector column on the
blocks with a GIN index. Both tokenize the same way: case folded, accents kept.
"""

from django.db import migrations, models

# The owner as a token ("u42"), so a search is narrowed to one user's rows inside the index.
SQLITE_ROW = """
    SELECT {block}.id, json_extract({block}.payload, '$.text'), 'u' || c.owner_id, m.conversation_id, m.id
    FROM conversations_message m JOIN conversations_conversation c ON c.id = m.conversation_id
    WHERE m.id = {block}.message_id AND {block}.type = 'text'
"""
SQLITE_INSERT = "INSERT INTO conversations_search (rowid, body, owner, conversation_id, message_id)"

SQLITE_FORWARD = [
    """CREATE VIRTUAL TABLE conversations_search USING fts5(
        body, owner, conversation_id UNINDEXED, message_id UNINDEXED,
        tokenize = 'unicode61 remove_diacritics 0', prefix = '2 3'
    )""",
    f"""CREATE TRIGGER conversations_search_insert AFTER INSERT ON conversations_contentblock
        WHEN NEW.type = 'text' BEGIN
        {SQLITE_INSERT} {SQLITE_ROW.format(block="NEW")};
    END""",
    f"""CREATE TRIGGER conversations_search_update AFTER UPDATE OF payload, type ON conversations_contentblock
    BEGIN
        DELETE FROM conversations_search WHERE rowid = OLD.id;
        {SQLITE_INSERT} {SQLITE_ROW.format(block="NEW")};
    END""",
    """CREATE TRIGGER conversations_search_delete AFTER DELETE ON conversations_contentblock
        WHEN OLD.type = 'text' BEGIN
        DELETE FROM conversations_search WHERE rowid = OLD.id;
    END""",
    # The blocks stored before this migration.
    f"""{SQLITE_INSERT}
    SELECT b.id, json_extract(b.payload, '$.text'), 'u' || c.owner_id, m.conversation_id, m.id
    FROM conversations_contentblock b JOIN conversations_message m ON m.id = b.message_id
    JOIN conversations_conversation c ON c.id = m.conversation_id WHERE b.type = 'text'""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS conversations_search_insert",
    "DROP TRIGGER IF EXISTS conversations_search_update",
    "DROP TRIGGER IF EXISTS conversations_search_delete",
    "DROP TABLE IF EXISTS conversations_search",
]

# PostgreSQL's parser keeps e-mail addresses, URLs, paths and host names whole and drops anything
# in <angle brackets> as a tag; these characters become spaces first, so it finds the words in
# them as FTS5 does.
PG_SEPARATORS = "<>&@/\\.:_=?#"
POSTGRES_FORWARD = [
    f"""ALTER TABLE conversations_contentblock ADD COLUMN search_vector tsvector
        GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, translate(
            COALESCE(payload ->> 'text', ''), '{PG_SEPARATORS}', '{" " * len(PG_SEPARATORS)}'
        ))) STORED""",
    "CREATE INDEX conversations_contentblock_search ON conversations_contentblock USING gin (search_vector)",
    # Titles: the same words, so a title matches as a message does (search.TITLE_VECTOR).
    f"""CREATE INDEX conversations_conversation_title_search ON conversations_conversation USING gin (
        to_tsvector('simple'::regconfig, translate(title, '{PG_SEPARATORS}', '{" " * len(PG_SEPARATORS)}'))
    )""",
]
POSTGRES_BACKWARD = [
    "DROP INDEX IF EXISTS conversations_conversation_title_search",
    "ALTER TABLE conversations_contentblock DROP COLUMN IF EXISTS search_vector",
]


def _run(statements: dict[str, list[str]]):
    def run(apps, schema_editor) -> None:
        for statement in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0012_remove_message_superseded"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="archived_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="conversation",
            name="deleted_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="conversation",
            name="pinned_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                condition=models.Q(
                    ("archived_at__isnull", True), ("deleted_at__isnull", True), ("pinned_at__isnull", True)
                ),
                fields=["owner", "-updated_at", "-id"],
                name="conversation_sidebar",
            ),
        ),
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", False)),
                fields=["deleted_at"],
                name="conversation_deleted",
            ),
        ),
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        ),
    ]
