"""SD-Host: a self-hosted Stable Diffusion service."""

__version__ = "0.1.0"
API_VERSION = "1.0.0"
