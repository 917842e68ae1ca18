"""The gateway's token roles (vidar_gateway.auth.TokenStore): requests that find a role expired
together share one read of the tokens collection."""

import asyncio
from typing import Any, cast

from vidar_gateway.auth import TOKENS, Role, TokenStore, digest


class Tokens:
    """A tokens collection holding one operator token; counts its reads."""

    def __init__(self, token: str) -> None:
        self.digest = digest(token)
        self.reads = 0

    async def find_one(self, query: dict, projection: dict) -> dict | None:
        self.reads += 1
        await asyncio.sleep(0.01)  # the read's round trip, during which the others arrive
        return {"role": Role.OPERATOR.value} if query["_id"] == self.digest else None


def test_requests_arriving_together_read_a_token_once() -> None:
    tokens = Tokens("secret")
    store = TokenStore(cast(Any, {TOKENS: tokens}))

    async def burst() -> list[Role | None]:
        return await asyncio.gather(*(store.role_of("secret") for _ in range(8)))

    assert asyncio.run(burst()) == [Role.OPERATOR] * 8
    assert tokens.reads == 1


def test_an_unknown_token_is_read_again_on_each_request() -> None:
    tokens = Tokens("secret")
    store = TokenStore(cast(Any, {TOKENS: tokens}))

    async def one_after_another() -> list[Role | None]:
        return [await store.role_of("guess") for _ in range(3)]

    assert asyncio.run(one_after_another()) == [None] * 3
    assert tokens.reads == 3
