"""The TikTok Business (Marketing) API emulated over the sandbox market."""
