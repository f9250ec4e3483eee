"""Web search and fetch (web.py) and cited documents (citations.py): the search counts and fee,
each reply's cited documents, the server tool block types, and a team's web access policy."""

from importlib import import_module

import django.db.models.deletion
from django.db import migrations, models

# SQLite rebuilds conversations_message to add its NOT NULL columns; the search triggers on the
# blocks (0013) name that table, so they are dropped for the rebuild and made again after it.
_search = import_module("conversations.migrations.0013_sidebar_search")
TRIGGERS_CREATE = _search.SQLITE_FORWARD[1:4]
TRIGGERS_DROP = _search.SQLITE_BACKWARD[:3]


def _on_sqlite(statements: list[str]):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "sqlite":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ('conversations', '0014_share'),
        ('teams', '0001_initial'),
    ]

    operations = [
        migrations.RunPython(_on_sqlite(TRIGGERS_DROP), _on_sqlite(TRIGGERS_CREATE)),
        migrations.AddField(
            model_name='message',
            name='cited_documents',
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name='message',
            name='web_fetch_requests',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='message',
            name='web_search_requests',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='modelprice',
            name='web_search',
            field=models.DecimalField(decimal_places=4, default=10, help_text='US dollars per 1,000 web searches', max_digits=10),
        ),
        migrations.AlterField(
            model_name='contentblock',
            name='type',
            field=models.CharField(choices=[('text', 'Text'), ('thinking', 'Thinking'), ('redacted_thinking', 'Redacted Thinking'), ('tool_use', 'Tool Use'), ('server_tool_use', 'Server Tool Use'), ('web_search_tool_result', 'Web Search Tool Result'), ('web_fetch_tool_result', 'Web Fetch Tool Result'), ('tool_result', 'Tool Result'), ('image', 'Image'), ('document', 'Document')], max_length=24),
        ),
        migrations.CreateModel(
            name='TeamPolicy',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('web_access', models.BooleanField(default=True, help_text='Web search and fetch may be turned on')),
                ('team', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='chat_policy', to='teams.team')),
            ],
        ),
        migrations.RunPython(_on_sqlite(TRIGGERS_CREATE), _on_sqlite(TRIGGERS_DROP)),
    ]
