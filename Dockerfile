# Image for web, worker and beat (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# OpenCV, which MediaPipe pulls in, loads libGL and libgthread at import time.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY requirements.txt .
RUN pip install -r requirements.txt

# The code stays owned by root (read-only to the app); only var/, static files
# and the media directory are the app user's. /data/media is created here so
# a fresh named volume mounted on it inherits this ownership.
RUN useradd --create-home --uid 10001 --user-group trialsite \
    && mkdir -p /app/var /app/staticfiles /data/media \
    && chown trialsite:trialsite /app/var /app/staticfiles /data/media

COPY . .

ENV VAR_DIR=/app/var \
    MEDIA_ROOT=/data/media

USER trialsite

# Static files are collected at build time; the key only satisfies settings
# (SECRET_KEY is required with DEBUG off) and is not used for anything else.
RUN DEBUG=0 SECRET_KEY=build-time-collectstatic-only-not-a-secret TASKS_IN_PROCESS=1 \
    python manage.py collectstatic --noinput

EXPOSE 8000

CMD ["gunicorn", "trialsite.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
