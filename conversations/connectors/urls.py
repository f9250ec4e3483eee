"""Routes of connectors (see its views)."""

urlpatterns: list = []
