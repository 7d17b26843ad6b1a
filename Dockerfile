# netlab's one image: every role (chat, exec, upload servers, clients, the
# gateway) is the `netlab` command with a different sub-command.
#
# scripts/start-lab builds it when it is missing. Default base: the official
# slim Python image, used when it is already on the machine (`docker compose
# up` builds from it then; nothing ever pulls). Otherwise scripts/build-images
# builds a Debian base with debootstrap and a wheelhouse in .cache/wheelhouse,
# which the build stage installs from with --no-index. Both bases provide
# python3 3.11.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
# Dependencies first (from the wheelhouse when there is one), so that a change
# to netlab's own code only redoes the last step. `.cach[e]` is a pattern so
# that the COPY also succeeds without .cache (the online case, both builders);
# .dockerignore lets only .cache/wheelhouse through.
COPY pyproject.toml .cach[e] /build/
RUN set -eu; \
    python3 -m venv /opt/netlab; \
    pip="/opt/netlab/bin/pip --disable-pip-version-check --no-cache-dir"; \
    deps=$(/opt/netlab/bin/python -c 'import tomllib; p = tomllib.load(open("/build/pyproject.toml", "rb")); print(" ".join(repr(d) for d in p["project"]["dependencies"] + p["build-system"]["requires"] + ["wheel"]))'); \
    if ls /build/wheelhouse/*.whl >/dev/null 2>&1; then \
        eval "$pip install --no-index --find-links /build/wheelhouse $deps"; \
    else \
        eval "$pip install $deps"; \
    fi
COPY . /src
# pyproject.toml names README.md as the long description; the real one stays
# out of the build context (see .dockerignore).
RUN set -eu; \
    [ -f /src/README.md ] || echo "netlab: see the project's README.md" >/src/README.md; \
    pip="/opt/netlab/bin/pip --disable-pip-version-check --no-cache-dir"; \
    if ls /build/wheelhouse/*.whl >/dev/null 2>&1; then \
        $pip install --no-deps --no-build-isolation --no-index /src; \
    else \
        $pip install --no-deps --no-build-isolation /src; \
    fi; \
    /opt/netlab/bin/netlab --version

FROM ${BASE_IMAGE}
# Fault injection and captures need these (run from a short-lived root
# container sharing a service's network namespace with NET_ADMIN: the
# services themselves have no capability), and `lab bench` its TCP baseline
# (iperf3); the local Debian base has them already, the slim image gets them
# from apt.
RUN set -eu; \
    missing=""; \
    for tool in ip:iproute2 iptables:iptables tcpdump:tcpdump iperf3:iperf3; do \
        command -v "${tool%%:*}" >/dev/null || missing="$missing ${tool#*:}"; \
    done; \
    if [ -n "$missing" ]; then \
        apt-get update; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    groupadd --system --gid 10001 netlab; \
    useradd --system --uid 10001 --gid netlab --home-dir /home/netlab --create-home \
        --shell /usr/sbin/nologin netlab; \
    install -d -o netlab -g netlab -m 0750 /data /data/uploads
COPY --from=build /opt/netlab /opt/netlab
ENV PATH=/opt/netlab/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LANG=C.UTF-8
USER netlab:netlab
WORKDIR /home/netlab
EXPOSE 8000
# Looks for the listening socket in /proc/net/tcp* (and reads the stats port
# when one is set): no connection to the service port, so classic-mode peers
# and the connect/disconnect logs are left alone.
HEALTHCHECK --interval=2s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-m", "lab.healthcheck"]
# Exec form: SIGTERM reaches the server (run with an init, see compose.yaml).
ENTRYPOINT ["netlab"]
CMD ["--help"]
