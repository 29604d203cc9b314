"""gunicorn -c services/inspections/gunicorn.conf.py 'services.inspections.app:create_app()'"""

from shared.config import Settings
from shared.gunicorn_conf import *  # noqa: F403

settings = Settings.from_env()

bind = settings.inspections_bind
