"""gunicorn settings every service shares; each service's gunicorn.conf.py adds its ``bind``."""

import os

from shared.metrics import child_exit  # noqa: F401  (a gunicorn hook, found by name)

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
timeout = 60
graceful_timeout = 20
# Long-polls on the feed hold a thread for up to 30 s; keep connections modest.
keepalive = 5
accesslog = None  # the app logs every request as JSON with its request id
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# gunicorn's control socket has one default path for every master on the machine.
control_socket_disable = True
