"""Prometheus metrics (operations.md §1): ``GET /metrics``.

- :mod:`.families`: the process-level families (HTTP requests, cache reads, Celery tasks,
  outbound requests), counted in every process; with several processes (gunicorn workers,
  Celery prefork children) prometheus-client's multiprocess mode adds them up
  (``PROMETHEUS_MULTIPROC_DIR``).
- :mod:`.application`: the application gauges, read from the database and the broker at
  scrape time by the providers the apps register in ``AppConfig.ready()``, a handful of
  queries whatever the portfolio size, cached for ``METRICS_CACHE_SECONDS`` (15 s) in the
  shared cache so every instance serves the same values.
- :mod:`.middleware` and :mod:`.celery_signals`: where the HTTP and task families are counted.
- :mod:`.views`: the endpoint, behind ``Authorization: Bearer <METRICS_TOKEN>``.
"""
