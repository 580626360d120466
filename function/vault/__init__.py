"""Vault as a service to the kinds: they declare intents, the runner has them applied.

Composers never call Vault. A kind mixes VaultParameters and VaultReporting
(model.py) into its API and puts typed intents (intents.py, kubeconfig.py) on
``Desired.vault``; after composing, the runner hands them to sync.py, which
logs in with hvac (client.py, settings.py) and applies them read-compare-write
within a time budget, and returns plain data. Whatever happens there, the
composed resources are the same: Vault's state shows only in a warning, the
VaultSynced condition and the retry TTL.
"""
