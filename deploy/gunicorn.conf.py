"""gunicorn settings for MasterBus behind nginx (deploy/nginx/masterbus.conf).

    .venv/bin/gunicorn -c deploy/gunicorn.conf.py

Command-line flags win over these, e.g. ``-w 8`` or ``-b unix:/run/masterbus/gunicorn.sock``.
A sync worker serves one connection at a time, from the first byte of the request to the
last byte of the response, so gunicorn listens on loopback only and every client goes
through nginx, which reads each request completely before passing it on and reads each
response at once (docs/deployment.md).
"""

from pathlib import Path

wsgi_app = "masterbus.wsgi:application"
chdir = str(Path(__file__).resolve().parent.parent)

# Loopback only: nothing but the local nginx may reach the workers.
bind = "127.0.0.1:8000"
worker_class = "sync"
workers = 4

# A request still running after this many seconds has its worker restarted (nginx's
# proxy_read_timeout is longer, so this one fires first).
timeout = 30
graceful_timeout = 30
# nginx speaks HTTP/1.0 to the upstream and the sync worker closes every connection anyway.
keepalive = 2

# Recycle workers now and then (bounded memory growth), staggered so they never all restart
# together.
max_requests = 1000
max_requests_jitter = 100

# X-Forwarded-* are trusted from the local nginx only (Django's own use of them is set by
# NUM_PROXIES and, in production, SECURE_PROXY_SSL_HEADER).
forwarded_allow_ips = "127.0.0.1,::1"

# Errors to stderr (the process manager's journal); nginx keeps the access log.
errorlog = "-"
loglevel = "info"

# No runtime control socket (gunicornc): its default path is shared by every gunicorn of the
# same user. Restart or scale through the process manager instead.
control_socket_disable = True


def child_exit(server, worker):
    """A worker left: its live gauges leave prometheus-client's multiprocess files
    (operations.md §1; PROMETHEUS_MULTIPROC_DIR)."""
    from masterbus.metrics.registry import mark_process_dead

    mark_process_dead(worker.pid)
