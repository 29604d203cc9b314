"""gunicorn -c services/issues/gunicorn.conf.py 'services.issues.app:create_app()'"""

from shared.config import Settings
from shared.gunicorn_conf import *  # noqa: F403

settings = Settings.from_env()

bind = settings.issues_bind
# A county list of 10,000+ rows is imported in one request; on a slow database that takes
# longer than the shared worker timeout.
timeout = settings.issues_worker_timeout
