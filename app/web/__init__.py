"""The web console: JSON API, pages, auth (issue 11)."""
