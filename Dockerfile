# syntax=docker/dockerfile:1
# Runtime image of the function, for teams with a Docker engine. `make package` builds the
# equivalent image without one (hack/build-image.sh); tests/e2e/test_package.py checks that
# both start the same entrypoint and command, as the same user, on the same port.
FROM python:3.11-slim-bookworm AS build
WORKDIR /fn
COPY requirements.lock pyproject.toml README.md LICENSE ./
COPY function ./function
# The runtime dependencies only, at the versions requirements.lock pins (not its dev tools),
# and no pip left in the venv.
RUN python -m venv /venv \
    && /venv/bin/pip install --no-cache-dir -c requirements.lock . \
    && /venv/bin/pip uninstall -y -q pip setuptools

FROM python:3.11-slim-bookworm
COPY --from=build /venv /venv
USER 65532:65532
EXPOSE 9443
ENTRYPOINT ["/venv/bin/function-platform"]
CMD ["--tls-server-certs-dir", "/tls/server"]
