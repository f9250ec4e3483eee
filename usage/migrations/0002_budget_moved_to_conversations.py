# Budget now lives in conversations (conversations/0008_budget); its table stays. State only.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("usage", "0001_initial"),
        ("conversations", "0008_budget"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Budget")],
            database_operations=[],
        ),
    ]
