"""gunicorn -c services/issues/gunicorn.conf.py 'services.issues.app:create_app()'"""

import os

from shared.gunicorn_conf import *  # noqa: F403

bind = os.environ.get("ISSUES_BIND", "0.0.0.0:8001")
