from decimal import Decimal

from django.db import migrations

# US dollars per million tokens: (input, output). Cache writes are 1.25x (5 min) and 2x (1 h) of
# input, cache reads 0.1x. The embedded local model is free.
DEFAULTS = {
    "claude-opus-4": ("5", "25"),
    "claude-sonnet-4": ("3", "15"),
    "claude-haiku-4": ("1", "5"),
    "smollm2-135m-local": ("0", "0"),
}


def add_prices(apps, schema_editor):
    ModelPrice = apps.get_model("conversations", "ModelPrice")
    for model, (input_price, output_price) in DEFAULTS.items():
        price = Decimal(input_price)
        ModelPrice.objects.get_or_create(
            model=model,
            defaults={
                "input": price,
                "output": Decimal(output_price),
                "cache_write_5m": price * Decimal("1.25"),
                "cache_write_1h": price * 2,
                "cache_read": price * Decimal("0.1"),
            },
        )


class Migration(migrations.Migration):
    dependencies = [("conversations", "0002_prices_prompts_cost")]
    operations = [migrations.RunPython(add_prices, migrations.RunPython.noop)]
