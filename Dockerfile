# A slim image that serves Slack and Teams on one port: docker run -p 3978:3978 -e ... image
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOST=0.0.0.0 PORT=3978 \
    DATABASE_URL=sqlite:////data/mentor.db
WORKDIR /app

COPY pyproject.toml constraints.txt ./
RUN pip install --no-cache-dir -c constraints.txt \
        slack-bolt slack-sdk botbuilder-core botbuilder-integration-aiohttp apscheduler \
        sqlmodel sqlalchemy alembic "psycopg[binary]" jinja2 dateparser aiohttp tzdata icalendar

COPY app.py ./
COPY bot ./bot
COPY conversations ./conversations
COPY prompts ./prompts
COPY storage ./storage
COPY examples ./examples

RUN useradd --create-home --uid 10001 mentor && mkdir -p /data && chown mentor /data
USER mentor
VOLUME ["/data"]
EXPOSE 3978

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"3978\")}/healthz', timeout=4)"

CMD ["python", "app.py", "serve"]
