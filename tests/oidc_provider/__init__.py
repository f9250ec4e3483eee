"""A real OpenID Connect provider for the single sign-on tests: django-oauth-toolkit with OIDC and
PKCE, in its own Django project and process (`python -m tests.oidc_provider.serve`)."""
