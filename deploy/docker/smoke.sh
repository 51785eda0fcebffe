#!/usr/bin/env bash
# The image's smoke test (CI runs it after `make test`): builds a Debian base from packages, builds
# kokanee's image on it, runs it, sends OTLP from the host with the OpenTelemetry SDK and reads it
# back through the API, checks the container's health check and a clean stop. Exits non-zero on any
# failure and removes what it started.
#
#   deploy/docker/smoke.sh            (as root on a Debian machine; installs docker.io and debootstrap)
#
# CA_BUNDLE: the CA bundle the build's HTTPS fetches trust (passed as a BuildKit secret).
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON="${PYTHON:-.venv/bin/python}"
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
IMAGE="${IMAGE:-kokanee:smoke}"
NAME="kokanee-smoke-$$"
started=$(date +%s)
step() { echo "smoke [$(($(date +%s) - started)) s] $*"; }

if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
    step "installing docker.io and debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 docker.io debootstrap >/dev/null
fi
# Debian's docker CLI speaks BuildKit itself (a newer CLI elsewhere on PATH may want the buildx plugin).
export DOCKER=/usr/bin/docker DOCKER_BUILDKIT=1
dockerd_pid=""
cleanup() {
    "$DOCKER" rm -f -v "$NAME" >/dev/null 2>&1 || true
    if [ -n "$dockerd_pid" ]; then  # the daemon this script started (its images stay for the next run)
        kill "$dockerd_pid" 2>/dev/null || true
        wait "$dockerd_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT
if ! "$DOCKER" info >/dev/null 2>&1; then
    step "starting dockerd"
    nohup dockerd >/tmp/kokanee-smoke-dockerd.log 2>&1 &
    dockerd_pid=$!
    for _ in $(seq 60); do "$DOCKER" info >/dev/null 2>&1 && break; sleep 1; done
    "$DOCKER" info >/dev/null || { cat /tmp/kokanee-smoke-dockerd.log; exit 1; }
fi

step "base image"
deploy/docker/build-base.sh kokanee-base:bookworm
step "building $IMAGE"
"$DOCKER" build -q --secret "id=ca,src=$CA_BUNDLE" --build-arg BASE=kokanee-base:bookworm -t "$IMAGE" . >/dev/null
"$DOCKER" image ls "$IMAGE" --format 'smoke: image {{.Repository}}:{{.Tag}} {{.Size}}'
# The build's CA bundle went in as a secret: it is not in the image (which has Debian's own CAs).
ca_sum=$(sha256sum <"$CA_BUNDLE" | cut -d' ' -f1)
if "$DOCKER" run --rm --entrypoint sh "$IMAGE" -c \
    "test -e /run/secrets/ca || sha256sum /etc/ssl/certs/ca-certificates.crt | grep -q $ca_sum"; then
    echo "smoke: the build's CA bundle is in the image" >&2
    exit 1
fi

step "running $IMAGE"
# Listening beyond loopback, kokanee turns sign-in on; the API token is how scripts get in.
export KOKANEE_API_TOKEN="smoke-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
"$DOCKER" run -d --name "$NAME" -e KOKANEE_API_TOKEN \
    -p 127.0.0.1::4317 -p 127.0.0.1::4318 -p 127.0.0.1::8080 "$IMAGE" serve >/dev/null
port() { "$DOCKER" port "$NAME" "$1/tcp" | head -1 | sed 's/.*://'; }
GRPC="127.0.0.1:$(port 4317)" HTTP="http://127.0.0.1:$(port 4318)" API="http://127.0.0.1:$(port 8080)"
uid=$("$DOCKER" exec "$NAME" id -u)
[ "$uid" != 0 ] || { echo "smoke: the container runs as root" >&2; exit 1; }

health=""
for _ in $(seq 120); do
    health=$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$NAME")
    [ "$health" = healthy ] && break
    [ "$("$DOCKER" inspect -f '{{.State.Running}}' "$NAME")" = true ] || break
    sleep 1
done
if [ "$health" != healthy ]; then
    echo "smoke: the container's health check says $health" >&2
    "$DOCKER" logs "$NAME" >&2
    exit 1
fi
step "healthy (uid $uid); sending OTLP"
"$PYTHON" deploy/docker/smoke_otlp.py "$GRPC" "$HTTP" "$API" || { "$DOCKER" logs "$NAME" >&2; exit 1; }

"$DOCKER" stop -t 30 "$NAME" >/dev/null
code=$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$NAME")
[ "$code" = 0 ] || { echo "smoke: kokanee exited with $code on SIGTERM" >&2; "$DOCKER" logs "$NAME" >&2; exit 1; }
step "passed"
