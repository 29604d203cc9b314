"""gunicorn -c services/notifications/gunicorn.conf.py 'services.notifications.app:create_app()'"""

from shared.config import Settings
from shared.gunicorn_conf import *  # noqa: F403

settings = Settings.from_env()

bind = settings.notifications_bind
