from django.db import migrations


class Migration(migrations.Migration):
    """A migration of its own: on PostgreSQL a table cannot be altered in the transaction that
    updated its rows (0011)."""

    dependencies = [
        ("conversations", "0011_linear_history_to_tree"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="message",
            name="superseded",
        ),
    ]
