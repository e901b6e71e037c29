"""The floor for a Python client: N chat requests, K in flight, through aiohttp alone.

No pytest, no cache, no scoring: what the test server and one asyncio process allow. Used by
``throughput.py`` as a reference line (not a target) beside the harness's own figures.

    python benchmarks/bare_client.py URL N K     # URL as http://127.0.0.1:PORT/v1
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp


async def send_all(url: str, count: int, concurrency: int) -> None:
    slots = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def one(i: int) -> None:
            body = {
                "model": "bench",
                "max_tokens": 1,
                "messages": [{"role": "user", "content": f"Bare client question {i}: which option?"}],
            }
            async with slots, session.post(f"{url}/chat/completions", json=body) as response:
                response.raise_for_status()
                await response.json()

        await asyncio.gather(*(one(i) for i in range(count)))


if __name__ == "__main__":
    base_url, n, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if not base_url.startswith("http://127.0.0.1:"):
        sys.exit(f"refusing a server that is not on 127.0.0.1: {base_url}")
    asyncio.run(send_all(base_url, n, k))
