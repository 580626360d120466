# Runtime image of the function (built by CI elsewhere; this machine has no Docker engine).
# syntax=docker/dockerfile:1
FROM python:3.11-slim-bookworm AS build
WORKDIR /fn
COPY requirements.lock pyproject.toml README.md ./
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir -r requirements.lock
COPY function ./function
RUN /venv/bin/pip install --no-cache-dir --no-deps .

FROM python:3.11-slim-bookworm
COPY --from=build /venv /venv
USER 65532:65532
EXPOSE 9443
ENTRYPOINT ["/venv/bin/function-platform"]
CMD ["--tls-server-certs-dir", "/tls/server"]
