# yidan: web application and worker in one image (issue 22).
#   docker build -t yidan:0.2.0 .                         (needs the package index, or a wheel folder:)
#   docker build --build-arg WHEELS=wheelhouse -t yidan:0.2.0 .   (offline: wheels from `pip download`, see docs/运维手册.md)
# The final image has no compiler and no pip cache; it runs as the unprivileged user `yidan`.

ARG PYTHON=python:3.11-slim-bookworm

# --- build: every dependency and yidan itself as wheels --------------------------------------------
FROM ${PYTHON} AS build
ARG WHEELS=
WORKDIR /src
COPY requirements.lock pyproject.toml README.md ./
COPY src ./src
COPY ${WHEELS:-requirements.lock} /wheelhouse-in/
RUN set -eux; \
    if ls /wheelhouse-in/*.whl >/dev/null 2>&1; then \
      pip wheel --no-index --find-links /wheelhouse-in --wheel-dir /wheels -r requirements.lock; \
      pip wheel --no-index --find-links /wheelhouse-in --no-deps --wheel-dir /wheels .; \
    else \
      pip wheel --wheel-dir /wheels -r requirements.lock; \
      pip wheel --no-deps --wheel-dir /wheels .; \
    fi

# --- run: Python, the wheels, a CJK font for the charts, the PostgreSQL client for `yidan db backup` ----
FROM ${PYTHON}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    YIDAN_DATA_DIR=/var/lib/yidan \
    MPLCONFIGDIR=/var/lib/yidan/.matplotlib
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends fonts-noto-cjk fontconfig postgresql-client; \
    rm -rf /var/lib/apt/lists/*; \
    groupadd --system --gid 10001 yidan; \
    useradd --system --uid 10001 --gid yidan --home-dir /var/lib/yidan --shell /usr/sbin/nologin yidan; \
    install -d -o yidan -g yidan -m 0750 /var/lib/yidan
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels yidan \
    && python -c "from yidan.reports.fonts import cjk_font_family; print(cjk_font_family())"
USER yidan
WORKDIR /var/lib/yidan
VOLUME ["/var/lib/yidan"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
# the web application; the worker runs the same image with `yidan worker`
CMD ["yidan", "serve", "--host", "0.0.0.0", "--port", "8000"]
