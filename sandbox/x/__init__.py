"""The X (Twitter) Ads API emulated over the sandbox market."""
