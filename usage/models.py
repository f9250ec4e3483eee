"""Monthly spending limits, per user or per team (US dollars, calendar month in UTC)."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q


class Budget(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="budget"
    )
    team = models.OneToOneField(
        "teams.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="budget"
    )
    monthly_limit = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="US dollars per month",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=True, team__isnull=False) | Q(user__isnull=False, team__isnull=True),
                name="budget_for_user_or_team",
            ),
            models.CheckConstraint(condition=Q(monthly_limit__gte=0), name="budget_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.user or self.team}: ${self.monthly_limit}/month"
