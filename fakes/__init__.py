"""Fakes of external services on the real wire, shared by the tests and the benchmark."""

from fakes.fake_anthropic import *  # noqa: F403  (the names are listed in its __all__)
from fakes.fake_anthropic import __all__  # noqa: F401
