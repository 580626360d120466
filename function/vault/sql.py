"""Safe SQL identifiers for statements the function hands to Vault."""


def quote_ident(name: str) -> str:
    """Quote a PostgreSQL identifier: wrap in double quotes, double every double quote.

    The result is always one identifier, whatever the name holds: quotes,
    semicolons and comment markers stay inside it. NUL cannot be in an
    identifier at all, and PostgreSQL would silently truncate names over 63
    bytes (possibly onto another name), so both are refused.
    """
    if not name or "\x00" in name:
        raise ValueError("an SQL identifier must be non-empty and contain no NUL")
    if len(name.encode()) > 63:
        raise ValueError("an SQL identifier must be at most 63 bytes")
    return '"' + name.replace('"', '""') + '"'


def statement_ident(name: str) -> str:
    """quote_ident for statements Vault templates: {{ and }} would be Vault's to expand."""
    if "{{" in name or "}}" in name:
        raise ValueError("an SQL identifier in a Vault statement must not contain {{ or }}")
    return quote_ident(name)
