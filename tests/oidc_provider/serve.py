"""`python -m tests.oidc_provider.serve DATA_DIR PORT`: set up the provider's database, key and users
once, then serve on 127.0.0.1:PORT. `... client DATA_DIR REDIRECT_URI` registers the app's client."""

import os
import sys
from pathlib import Path

CLIENT_ID, CLIENT_SECRET = "chat-app", "chat-app-secret-0123456789"
# username: (email, password)
USERS = {
    "carol": ("carol@example.com", "carol-idp-pass"),
    "erin": ("erin@example.com", "erin-idp-pass"),
    "mallory": ("mallory@elsewhere.org", "mallory-idp-pass"),
}


def _setup(data: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = data / "key.pem"
    if not key.exists():
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key.write_bytes(
            private.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    os.environ["IDP_DATA_DIR"] = str(data)
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.oidc_provider.settings"
    import django

    django.setup()


def main() -> None:
    command, data = sys.argv[1], Path(sys.argv[2])
    data.mkdir(parents=True, exist_ok=True)
    _setup(data)
    from django.contrib.auth.models import User
    from django.core.management import call_command

    if command == "client":
        from oauth2_provider.models import Application

        Application.objects.update_or_create(
            client_id=CLIENT_ID,
            defaults=dict(
                name="Chat",
                client_type=Application.CLIENT_CONFIDENTIAL,
                authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
                client_secret=CLIENT_SECRET,
                redirect_uris=sys.argv[3],
                algorithm=Application.RS256_ALGORITHM,
                skip_authorization=True,
            ),
        )
        return
    call_command("migrate", verbosity=0)
    for username, (email, password) in USERS.items():
        if not User.objects.filter(username=username).exists():
            User.objects.create_user(username, email=email, password=password, first_name=username.title())
    call_command("runserver", f"127.0.0.1:{sys.argv[3]}", "--noreload")


if __name__ == "__main__":
    main()
