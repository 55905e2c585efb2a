"""Which upstream serves a model: an exact name in a provider's list, else the longest prefix."""

from __future__ import annotations

from convobase.config import ProviderConfig
from convobase.gateway.errors import GatewayError


def route(
    providers: list[ProviderConfig], model: str, preferred: str | None = None
) -> tuple[ProviderConfig, str]:
    """The provider for ``model`` and the model name to send it (a ``/``-ending prefix is cut)."""
    exact = [p for p in providers if model in p.models]
    if exact:
        chosen = next((p for p in exact if p.name == preferred), exact[0])
        return chosen, model
    prefixed = [p for p in providers if p.model_prefix and model.startswith(p.model_prefix)]
    if prefixed:
        best = max(prefixed, key=lambda p: (len(p.model_prefix or ""), p.name == preferred))
        prefix = best.model_prefix or ""
        upstream_model = model[len(prefix) :] if prefix.endswith("/") else model
        if upstream_model:
            return best, upstream_model
    raise GatewayError(
        404, f"The model `{model}` does not exist or is not served here", "model_not_found"
    )


def listed_models(providers: list[ProviderConfig]) -> list[tuple[str, str]]:
    """(model, provider) for every model named in the configuration, first provider wins."""
    seen: dict[str, str] = {}
    for provider in providers:
        for model in provider.models:
            seen.setdefault(model, provider.name)
    return list(seen.items())
