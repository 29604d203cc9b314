"""gunicorn -c services/inspections/gunicorn.conf.py 'services.inspections.app:create_app()'"""

import os

from shared.gunicorn_conf import *  # noqa: F403

bind = os.environ.get("INSPECTIONS_BIND", "0.0.0.0:8002")
