# Budgets moved here from the usage app (they are the send's precondition). State only: the table
# `usage_budget` and its constraints already exist and keep their names.

from decimal import Decimal

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0007_superseded"),
        ("teams", "0001_initial"),
        ("usage", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Budget",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "monthly_limit",
                            models.DecimalField(
                                decimal_places=2,
                                help_text="US dollars per month",
                                max_digits=12,
                                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
                            ),
                        ),
                        (
                            "team",
                            models.OneToOneField(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="budget",
                                to="teams.team",
                            ),
                        ),
                        (
                            "user",
                            models.OneToOneField(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="budget",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "usage_budget",
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(
                                    models.Q(("team__isnull", False), ("user__isnull", True)),
                                    models.Q(("team__isnull", True), ("user__isnull", False)),
                                    _connector="OR",
                                ),
                                name="budget_for_user_or_team",
                            ),
                            models.CheckConstraint(
                                condition=models.Q(("monthly_limit__gte", 0)), name="budget_not_negative"
                            ),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
