from django.db import migrations

from conversations.claude.pricing import seed_default_prices


def add_prices(apps, schema_editor):
    seed_default_prices(apps.get_model("conversations", "ModelPrice"))


class Migration(migrations.Migration):
    dependencies = [("conversations", "0002_prices_prompts_cost")]
    operations = [migrations.RunPython(add_prices, migrations.RunPython.noop)]
