# syntax=docker/dockerfile:1
# eventinvoke's one image, for every role (docs/deploy.md):
#
#   docker build -t eventinvoke:0.1.0 .
#   docker run -p 50051:50051 -p 9001:9001 -v eventinvoke:/var/lib/eventinvoke eventinvoke:0.1.0
#   docker run ... eventinvoke:0.1.0 serve executor --backend postgresql://...
#
# One image, Node.js included, rather than a Node.js-only target for the executor: `up` (the
# single-node deployment) runs the executor too, so the Node.js-less variant would serve only
# the invoker, router and gateway pods; one artifact to build, scan, sign and promote means
# every role of a deployment runs the same release against the one database schema; and the
# image's layers are stored once per node however many roles run there, so the ~60 MB of
# Node.js is paid once per node, not per pod.
#
# Everything comes from PyPI and Debian: no binary is downloaded from anywhere else.

# The same Python image for both stages: the virtual environment built in the first is copied
# into the second and keeps pointing at its interpreter, /usr/local/bin/python3.11.
ARG PYTHON_IMAGE=python:3.11-slim-trixie

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/eventinvoke
WORKDIR /src
COPY . .
# Building the wheel generates the protobuf code (hatch_build.py, with grpcio-tools from the
# build requirements); every dependency has a wheel, so no compiler is needed. pip compiles
# the bytecode now, so the read-only root file system never needs it written.
RUN /opt/eventinvoke/bin/pip install /src

FROM ${PYTHON_IMAGE}
# Node.js runs the nodejs* functions (any nodejs*.x runs on the image's Node.js, Debian's).
# Debian's package versions are not pinned: a stable release only takes security fixes, and a
# pinned version disappears from the archive when the next fix lands.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs \
    && rm -rf /var/lib/apt/lists/*
# A fixed, numeric user: Kubernetes' runAsNonRoot can only check a numeric one.
RUN groupadd --system --gid 10001 eventinvoke \
    && useradd --system --uid 10001 --gid eventinvoke --no-create-home \
        --home-dir /var/lib/eventinvoke --shell /usr/sbin/nologin eventinvoke \
    && install -d -o eventinvoke -g eventinvoke -m 0750 /var/lib/eventinvoke
COPY --from=build /opt/eventinvoke /opt/eventinvoke
# The settings a container needs, in one place (every setting is an EVENTINVOKE_* variable):
# the data directory on the volume, and both servers listening on every interface, since a
# container's loopback is its own.
ENV PATH=/opt/eventinvoke/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    EVENTINVOKE_DATA_DIR=/var/lib/eventinvoke \
    EVENTINVOKE_LISTEN=0.0.0.0:50051 \
    EVENTINVOKE_HTTP_LISTEN=0.0.0.0:9001 \
    EVENTINVOKE_LOG_FORMAT=json
VOLUME ["/var/lib/eventinvoke"]
WORKDIR /var/lib/eventinvoke
USER 10001:10001
# gRPC (h2c: HTTP/2 without TLS) and the Lambda REST API (HTTP/1.1).
EXPOSE 50051 9001
ENTRYPOINT ["eventinvoke"]
# The whole suite on SQLite in the volume; `serve invoker|executor|router|gateway` runs one role
# (cluster mode, with --backend or EVENTINVOKE_BACKEND).
CMD ["up"]
