"""gunicorn -c services/web/gunicorn.conf.py 'services.web.app:create_app()'"""

from shared.config import Settings
from shared.gunicorn_conf import *  # noqa: F403

settings = Settings.from_env()

bind = settings.web_bind
# A county's list is imported through this app in one request to the issues service.
timeout = settings.issues_worker_timeout
