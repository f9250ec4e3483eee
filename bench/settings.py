"""The app's own settings, with one change for the benchmark: a cheap password hasher.

Logging in 500 users with the default PBKDF2 (1.5 M iterations, about a second of CPU each) would
cost minutes of server CPU before the benchmark even starts. Logins are not what it measures, so
the bench users' passwords are stored and checked with MD5; every other setting is the app's.
"""

from django.conf import global_settings

from chatsite.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *global_settings.PASSWORD_HASHERS]
