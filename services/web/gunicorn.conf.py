"""gunicorn -c services/web/gunicorn.conf.py 'services.web.app:create_app()'"""

import os

from shared.gunicorn_conf import *  # noqa: F403

bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
# A county's list is imported through this app in one request to the issues service.
timeout = int(os.environ.get("ISSUES_WORKER_TIMEOUT", "300"))
