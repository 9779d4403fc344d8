# Production image: Python app + the built PWA. Run one container per Procfile process (docker-compose.yml).
FROM node:20-slim AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# espeak-ng: the built-in voice of the AI's voice replies (README, "Voice notes out").
RUN apt-get update && apt-get install -y --no-install-recommends espeak-ng && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
COPY --from=frontend /src/frontend/dist frontend/dist
RUN DATABASE_URL=postgres://x@localhost/x python manage.py collectstatic --noinput
EXPOSE 8000
# Migrations and the public tenant: `docker compose run --rm web python manage.py setup_platform`.
CMD ["sh", "-c", "daphne -b 0.0.0.0 -p ${PORT:-8000} buildcrm.asgi:application"]
