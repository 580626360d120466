"""Vault integration: composers declare intents, the runner applies them.

Composers never call Vault. They put typed intents (intents.py) on
``Desired.vault``; after composing, the runner hands them to sync.py, which
logs in with hvac and applies them read-compare-write within a time budget.
Whatever happens there, the composed resources are the same: Vault's state
shows only in a result, the VaultSynced condition and the retry TTL.
"""
