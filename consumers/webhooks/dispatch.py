"""Starting deliveries once events are committed."""


def deliveries_kick() -> None:
    """Queue the delivery of what waits for each active subscription (none yet)."""
