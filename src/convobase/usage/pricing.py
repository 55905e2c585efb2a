"""What a request cost, from a maintained price table (genai-prices, offline) or an admin's price.

An admin's price for a model wins over the table. A model neither knows gets no cost at all
(``None``) and is flagged: a made-up number would drift from the provider's bill.

Token counts follow the providers' own reports: ``input_tokens`` is every prompt token,
including those read from or written to the prompt cache (``cached_tokens``,
``cache_write_tokens``), which are priced at their own rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import genai_prices

from convobase.models import ModelPrice

_MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Tokens:
    input: int
    output: int
    cached: int = 0
    cache_write: int = 0


@dataclass(frozen=True, slots=True)
class Price:
    cost_usd: Decimal | None
    source: str | None  # "override", "genai-prices", or None when unknown
    provider: str | None  # the provider the table matched, when the caller named none


def from_override(tokens: Tokens, price: ModelPrice) -> Price:
    cache_read = price.cache_read_per_mtok
    cache_write = price.cache_write_per_mtok
    uncached = tokens.input - (tokens.cached if cache_read is not None else 0)
    uncached -= tokens.cache_write if cache_write is not None else 0
    cost = Decimal(max(uncached, 0)) * price.input_per_mtok
    cost += Decimal(tokens.output) * price.output_per_mtok
    if cache_read is not None:
        cost += Decimal(tokens.cached) * cache_read
    if cache_write is not None:
        cost += Decimal(tokens.cache_write) * cache_write
    return Price(cost_usd=cost / _MILLION, source="override", provider=price.provider)


def from_table(tokens: Tokens, model: str, provider: str | None) -> Price:
    try:
        calculation = _calculate(tokens, model, provider)
    except LookupError:
        return Price(cost_usd=None, source=None, provider=None)
    return Price(
        cost_usd=calculation.total_price,
        source="genai-prices",
        provider=calculation.provider.id,
    )


def _calculate(
    tokens: Tokens, model: str, provider: str | None
) -> genai_prices.types.PriceCalculation:
    # A provider the table does not know means a model we cannot price (a self-hosted
    # "llama" is not billed at some cloud's rate): no fallback to a model-only lookup.
    usage = genai_prices.Usage(
        input_tokens=tokens.input,
        output_tokens=tokens.output,
        cache_read_tokens=tokens.cached or None,
        cache_write_tokens=tokens.cache_write or None,
    )
    return genai_prices.calc_price(usage, model, provider_id=provider)
