"""gunicorn -c services/notifications/gunicorn.conf.py 'services.notifications.app:create_app()'"""

import os

from shared.gunicorn_conf import *  # noqa: F403

bind = os.environ.get("NOTIFICATIONS_BIND", "0.0.0.0:8003")
