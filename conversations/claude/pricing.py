"""Pure: what a reply cost, and what prompt caching saved, in US dollars (Decimal).

Prices are per million tokens. A cache read is billed at about 0.1x the input price; a cache write
at 1.25x (5-minute TTL) or 2x (1-hour TTL). Savings compare with sending the same tokens uncached:
reads save (input - read), writes cost (write - input) extra.
"""

from dataclasses import dataclass, replace
from decimal import Decimal

MILLION = Decimal(1_000_000)
LONG_CONTEXT_FROM = 200_000  # input tokens: past this, a 1M-window request costs the long-context rates
# Requests sent through the Message Batches API cost half (workbench/ runs "as batch").
BATCH_RATE = Decimal("0.5")

# US dollars per million tokens (input, output), by model id prefix; admins can edit them later.
DEFAULT_PRICES = {
    "claude-opus-4": ("5", "25"),
    "claude-sonnet-4": ("3", "15"),
    "claude-haiku-4": ("1", "5"),
    "smollm2-135m-local": ("0", "0"),  # the embedded model is free
}


@dataclass(frozen=True)
class Price:
    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal
    web_search: Decimal = Decimal(10)  # per 1,000 searches
    # With the 1M context window, a request whose input is over LONG_CONTEXT_FROM tokens is billed
    # at these (input and output); its cache rates keep their ratio to input. None: no such rates.
    long_input: Decimal | None = None
    long_output: Decimal | None = None

    def for_request(self, usage: "Usage") -> "Price":
        """The rates this request is billed at: the long-context ones past LONG_CONTEXT_FROM."""
        read = usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens
        if self.long_input is None or self.long_output is None or read <= LONG_CONTEXT_FROM or not self.input:
            return self
        scale = self.long_input / self.input
        return replace(
            self,
            input=self.long_input,
            output=self.long_output,
            cache_write_5m=self.cache_write_5m * scale,
            cache_write_1h=self.cache_write_1h * scale,
            cache_read=self.cache_read * scale,
        )


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0  # all cache writes, both TTLs
    cache_creation_1h_input_tokens: int = 0  # the part of them written with the 1-hour TTL
    cache_read_input_tokens: int = 0
    web_search_requests: int = 0  # from the usage's server tool counts (llm.py)
    web_fetch_requests: int = 0  # billed as the tokens it adds, no fee

    def plus(self, counts: dict[str, int]) -> "Usage":
        """This usage with another API call's token counts added (by field name)."""
        return replace(self, **{name: getattr(self, name) + value for name, value in counts.items()})


def cost(usage: Usage, price: Price) -> Decimal:
    price = price.for_request(usage)
    writes_1h = usage.cache_creation_1h_input_tokens
    writes_5m = usage.cache_creation_input_tokens - writes_1h
    total = (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + writes_5m * price.cache_write_5m
        + writes_1h * price.cache_write_1h
        + usage.cache_read_input_tokens * price.cache_read
    )
    return total / MILLION + search_fee(usage, price)


def search_fee(usage: Usage, price: Price) -> Decimal:
    """Web searches are billed per 1,000, on top of the tokens their results add."""
    return usage.web_search_requests * price.web_search / 1000


def cache_savings(usage: Usage, price: Price) -> Decimal:
    """Money caching saved against the same request without caching (negative if it cost more)."""
    price = price.for_request(usage)
    writes_1h = usage.cache_creation_1h_input_tokens
    writes_5m = usage.cache_creation_input_tokens - writes_1h
    saved = usage.cache_read_input_tokens * (price.input - price.cache_read)
    extra = writes_5m * (price.cache_write_5m - price.input) + writes_1h * (
        price.cache_write_1h - price.input
    )
    return (saved - extra) / MILLION


def hit_rate(*, input_tokens: int, cache_creation_input_tokens: int, cache_read_input_tokens: int) -> float:
    total = input_tokens + cache_creation_input_tokens + cache_read_input_tokens
    return cache_read_input_tokens / total if total else 0.0


def seed_default_prices(model_price_class) -> None:
    """Insert DEFAULT_PRICES rows that are missing (used by a data migration and by tests)."""
    for model, (input_price, output_price) in DEFAULT_PRICES.items():
        price = Decimal(input_price)
        model_price_class.objects.get_or_create(
            model=model,
            defaults={
                "input": price,
                "output": Decimal(output_price),
                "cache_write_5m": price * Decimal("1.25"),
                "cache_write_1h": price * 2,
                "cache_read": price * Decimal("0.1"),
            },
        )
