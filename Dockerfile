# Cove server image, built from this repository: `docker build -t cove .`
# Run: docker run -p 20002:20002 -v cove-data:/data -v "$PWD/app:/app:ro" \
#        -e COVE_PUBLIC_URL=https://api.example.com/graphql cove /app/schema.py
# Any `cove serve` option can be given as arguments or as a COVE_* variable (README: Running in production).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/cove
COPY pyproject.toml README.md ./
COPY src ./src
# The broker drivers are small; with them one image serves --broker-url redis:// and postgresql://.
RUN pip install '.[redis,postgres]' \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin cove \
    && mkdir /data && chown cove /data

USER cove
WORKDIR /data
VOLUME /data
# 0.0.0.0 inside the container; set COVE_PUBLIC_URL to the URL clients use, for the outputs file.
ENV COVE_HOST=0.0.0.0 COVE_PORT=20002 COVE_DATA_DIR=/data COVE_OUTPUTS=/data/amplify_outputs.json \
    COVE_LOG_FORMAT=json
EXPOSE 20002
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/ready' % os.environ['COVE_PORT'], timeout=4)"]
ENTRYPOINT ["cove", "serve"]
