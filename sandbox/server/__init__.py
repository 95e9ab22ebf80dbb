"""The sandbox's ASGI server: the admin API now, the platform APIs on top of the same market."""
