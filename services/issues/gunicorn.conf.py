"""gunicorn -c services/issues/gunicorn.conf.py 'services.issues.app:create_app()'"""

import os

from shared.gunicorn_conf import *  # noqa: F403

bind = os.environ.get("ISSUES_BIND", "0.0.0.0:8001")
# A county list of 10,000+ rows is imported in one request; on a slow database that takes
# longer than the shared worker timeout.
timeout = int(os.environ.get("ISSUES_WORKER_TIMEOUT", "300"))
