"""Sign-in with Google, GitHub and any OpenID Connect provider (Authlib)."""
