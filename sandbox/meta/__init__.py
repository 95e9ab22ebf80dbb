"""The Meta Marketing API (Graph API) emulated over the sandbox market."""
