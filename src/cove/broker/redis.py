"""Redis pub/sub broker (``--broker-url redis://host:6379/0``; needs the ``redis`` package)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from .base import BrokerError, Deliver, redact

log = logging.getLogger("cove.broker")

_MAX_PENDING = 100_000


class RedisBroker:
    local = False

    def __init__(self, url: str, channel: str) -> None:
        self.url = url
        self.channel = channel
        self.description = f"Redis pub/sub {redact(url)} channel {channel}"
        self._client: Any = None
        self._pending: asyncio.Queue[bytes] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._deliver: Deliver | None = None
        self._subscribed = asyncio.Event()
        self._dropped = 0
        self._listening = False

    @property
    def connected(self) -> bool:
        """Subscribed to the channel right now (``/ready`` reports it)."""
        return self._listening

    @property
    def dropped(self) -> int:
        """Events dropped because Redis did not keep up (the metrics report it)."""
        return self._dropped

    async def start(self, deliver: Deliver) -> None:
        try:
            import redis.asyncio as aioredis
        except ImportError:
            raise BrokerError("--broker-url redis://... needs the redis package: install Cove's redis extra the way "
                              "you installed Cove, e.g. pip install 'cove[redis]' (from a checkout: "
                              "pip install -e '.[redis]')") from None
        self._deliver = deliver
        self._client = aioredis.from_url(self.url)
        try:
            await asyncio.wait_for(self._client.ping(), 10)
        except Exception as exc:
            await self._client.aclose()
            raise BrokerError(f"cannot reach the broker at {redact(self.url)}: {exc}") from None
        self._tasks = [asyncio.create_task(self._listen(), name="cove-redis-listen"),
                       asyncio.create_task(self._publish_loop(), name="cove-redis-publish")]
        # Subscribed before the server takes requests: events from the first mutation on arrive.
        await asyncio.wait_for(self._subscribed.wait(), 10)

    def unheard(self, topic: str) -> bool:
        return False   # Redis does not say who subscribes to what before the publish

    async def listen(self, topic: str) -> None:
        pass   # one channel carries every topic

    def publish(self, message: bytes, topic: str) -> None:
        if self._pending.qsize() >= _MAX_PENDING:
            self._dropped += 1
            if self._dropped % 1000 == 1:
                log.warning("Redis broker is not keeping up; dropped %d events", self._dropped)
            return
        self._pending.put_nowait(message)

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._subscribed.set()
                self._listening = True
                delay = 0.1
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                    if message is not None and message.get("type") == "message" and self._deliver is not None:
                        try:
                            self._deliver(message["data"])
                        except Exception:  # one bad event must not stop the stream
                            log.exception("delivering a broker event failed")
            except asyncio.CancelledError:
                self._listening = False
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                raise
            except Exception as exc:
                self._listening = False
                log.warning("Redis broker connection lost (%s); reconnecting in %.1fs", exc, delay)
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _publish_loop(self) -> None:
        while True:
            batch = [await self._pending.get()]
            while not self._pending.empty() and len(batch) < 500:
                batch.append(self._pending.get_nowait())
            try:
                if len(batch) == 1:
                    await self._client.publish(self.channel, batch[0])
                else:
                    pipe = self._client.pipeline(transaction=False)
                    for message in batch:
                        pipe.publish(self.channel, message)
                    await pipe.execute()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("publishing %d event(s) to Redis failed (%s); they are dropped", len(batch), exc)
                await asyncio.sleep(0.1)

    async def close(self) -> None:
        # Give queued events a moment to go out, then stop.
        for _ in range(50):
            if self._pending.empty():
                break
            await asyncio.sleep(0.01)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks = []
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None
