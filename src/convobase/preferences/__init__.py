"""User preferences: a typed document with defaults, merge-patched, dotted paths, presets."""
