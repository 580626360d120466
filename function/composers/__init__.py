"""One composer per composite kind: Context in, Desired out."""
