"""function-platform: a Crossplane composition function for the platform catalogue."""

import os

# grpc core's experiment event_engine_listener, on by default in grpcio 1.84
# (src/core/lib/experiments/experiments.yaml in grpc/grpc), reads a server's connections on
# the EventEngine's own threads, which then wake a thread polling the completion queue.
# With iomgr's listener the polling thread reads the socket itself: on the function's
# transport a unary call takes about 4 context switches instead of 8.5, and about a
# sixth less of the serving CPU (docs/benchmarks.md).
# grpc reads the variable once, when it is first imported, so it is set here: every entry
# point (the console script, python -m function) imports this package before grpc.
# An operator's own GRPC_EXPERIMENTS is kept.
GRPC_EXPERIMENTS = "-event_engine_listener"
os.environ.setdefault("GRPC_EXPERIMENTS", GRPC_EXPERIMENTS)
