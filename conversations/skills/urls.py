"""Routes of skills (see its views)."""

urlpatterns: list = []
