"""Convobase: the open-source backend for AI chat applications."""

__version__ = "0.1.0"
