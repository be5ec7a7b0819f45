"""masterbus.settings with the benchmark URLconf (the project's routes + the floor route)."""

from masterbus.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.floor_app.urls"
