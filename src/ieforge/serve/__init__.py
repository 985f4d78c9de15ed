"""ieforge over HTTP: task endpoints, an OpenAI-compatible endpoint and a small page (``ieforge serve``)."""

from ieforge.serve.app import create_app, is_loopback, listen

__all__ = ["create_app", "is_loopback", "listen"]
