"""Sizes in the units people read on the landing page: binary GiB/MiB/KiB, one decimal at most."""

UNITS = (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024))


def bytes_human(size) -> str:
    size = int(size or 0)
    for unit, factor in UNITS:
        if size >= factor:
            value = round(size / factor, 1)
            return f"{value:g} {unit}"
    return f"{size} B"


def mib_human(mib) -> str:
    return bytes_human(int(mib or 0) * 1024**2)


def money(cents, currency: str = "") -> str:
    """12900, "eur" → "129.00 EUR" (amounts are kept in cents, shown in the currency)."""
    amount = f"{int(cents or 0) / 100:,.2f}"
    return f"{amount} {currency.upper()}".strip()
