# One image for every service process (web apps, consumers, relays, scheduler, dispatcher);
# docker-compose.yml picks the command. Build: docker build -t supervision .

# The npm packages of package.json (the national division codes the services read), installed
# exactly as package-lock.json names them; only node_modules goes into the image, not node.
FROM node:20-slim AS npm
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so code changes do not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The code. Commands run from /app, where the services' gunicorn.conf.py files are.
COPY --from=npm /app/node_modules ./node_modules
COPY . .
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /metrics \
    && chown app:app /metrics

USER app

# Each service's processes share a Prometheus multiprocess directory (a volume in compose).
ENV PROMETHEUS_MULTIPROC_DIR=/metrics

EXPOSE 8001 8002 8003
CMD ["python", "-c", "print('choose a command, e.g. gunicorn -c services/issues/gunicorn.conf.py \"services.issues.app:create_app()\"')"]
