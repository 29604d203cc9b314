"""gunicorn settings every service shares; each service's gunicorn.conf.py adds its ``bind``."""

from shared.config import Settings
from shared.metrics import child_exit  # noqa: F401  (a gunicorn hook, found by name)

_settings = Settings.from_env()
workers = _settings.web_concurrency
threads = _settings.web_threads
worker_class = "gthread"
timeout = 60
graceful_timeout = 20
# Long-polls on the feed hold a thread for up to 30 s; keep connections modest.
keepalive = 5
accesslog = None  # the app logs every request as JSON with its request id
errorlog = "-"
loglevel = _settings.log_level.lower()
# gunicorn's control socket has one default path for every master on the machine.
control_socket_disable = True
