"""XRs with a lifetime (preview environments): status.expiresAt, the Expired condition, and
the Operation that deletes expired XRs (reaper.py) through the Kubernetes API (kubeapi.py)."""
