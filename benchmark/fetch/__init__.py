"""Fetchers of pinned files from the package registries (Debian, PyPI), and readers of
what they hold; the embedded pools' builders and the selection methods both use them."""
