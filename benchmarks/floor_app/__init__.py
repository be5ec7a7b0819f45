"""The API benchmark's floor: constant JSON bodies served through the project's own stack.

Used only by ``benchmarks/run api``: gunicorn runs with
``DJANGO_SETTINGS_MODULE=benchmarks.floor_app.settings`` (masterbus.settings with
``ROOT_URLCONF = "benchmarks.floor_app.urls"``) and ``BENCH_FLOOR=1``. The URLconf is the
project's own plus ``GET /api/v1/bench-floor/<size>``; without ``BENCH_FLOOR=1`` it is exactly
the project's.
"""
