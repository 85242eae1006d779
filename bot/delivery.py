"""The delivery worker: claims due outbox rows, sends them at each platform's pace, records them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.dispatcher import Dispatcher, Outgoing
from bot.core.events import OutMessage, Reply, msg
from bot.core.ports import DeliveryError, RateLimited, TransientError, Unreachable
from bot.services import broadcasts, feedback_lifecycle, feedback_notices, outbox
from bot.services.outbox import Outcome
from storage.models import (
    Broadcast,
    BroadcastStatus,
    Delivery,
    DeliveryStatus,
    Person,
)

log = logging.getLogger("loaphuong.delivery")

# A source turns its claimed rows into what each recipient sees: {delivery id: reply}.
Renderer = Callable[[AsyncSession, Sequence[Delivery]], Awaitable[dict[int, Reply]]]
PROGRESS_STEPS = 10  # Telegram's progress message is edited at each tenth


async def render_broadcasts(session: AsyncSession, rows: Sequence[Delivery]) -> dict[int, Reply]:
    """Directive or announcement text for each row (a reminder says so on top)."""
    items = {
        b.id: b
        for b in await session.scalars(
            select(Broadcast).where(Broadcast.id.in_({r.source_id for r in rows}))
        )
    }
    out = {}
    for row in rows:
        item = items.get(row.source_id)
        if item is not None and item.status != BroadcastStatus.cancelled:
            out[row.id] = broadcasts.content(item, reminder=row.source == broadcasts.REMINDER)
    return out


class DeliveryWorker:
    """One worker per process; several may run against PostgreSQL (rows are claimed, not shared)."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        batch: int = 60,
        idle_seconds: float = 0.5,
        renderers: dict[str, Renderer] | None = None,
        rates: dict[str, float] | None = None,
        extra_renderers: dict[str, Renderer] | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.sessions = dispatcher.sessions
        self.clock = dispatcher.clock
        self.batch = batch
        self.idle_seconds = idle_seconds
        self.rates = rates or {}
        self.renderers: dict[str, Renderer] = renderers or {
            broadcasts.SOURCE: render_broadcasts,
            broadcasts.REMINDER: render_broadcasts,
            feedback_lifecycle.SOURCE: feedback_notices.renderer(
                dispatcher.settings, self.clock.now
            ),
        }
        self.renderers.update(extra_renderers or {})
        self._kick = asyncio.Event()

    def kick(self) -> None:
        """New rows were written: look now rather than at the next idle tick."""
        self._kick.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; rows left claimed by a dead worker are taken back first."""
        async with self.sessions() as session:
            released = await outbox.release_stale(session, self.clock.now())
            await session.commit()
        if released:
            log.warning(
                "%d deliveries were claimed by a stopped worker; sending them again", released
            )
        while not stop.is_set():
            try:
                # Shielded: at shutdown a batch finishes and records what it sent.
                worked = await asyncio.shield(self.run_once())
            except Exception:  # the worker's run loop must survive any single batch
                log.exception("delivery batch failed")
                worked = 0
            if not worked:
                self._kick.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._kick.wait(), timeout=self.idle_seconds)

    async def run_once(self) -> int:
        """Claim, send and record one batch; returns how many rows it handled."""
        async with self.sessions() as session:
            rows = await outbox.claim(session, self.clock.now(), self.batch)
            await session.commit()
        if not rows:
            return 0
        try:
            async with self.sessions() as session:
                prepared = await self._prepare(session, rows)
                await self._start_broadcasts(session, rows)
                await session.commit()
            outcomes = await asyncio.gather(*(self._send(row, out) for row, out in prepared))
        except BaseException:
            async with self.sessions() as session:
                await outbox.release_mine(session, [r.id for r in rows])
                await session.commit()
            raise
        async with self.sessions() as session:
            await outbox.record(session, outcomes)
            await session.commit()
        await self._report_progress({r.source_id for r in rows if r.source == broadcasts.SOURCE})
        return len(rows)

    async def _prepare(
        self, session: AsyncSession, rows: Sequence[Delivery]
    ) -> list[tuple[Delivery, OutMessage | None]]:
        by_source: dict[str, list[Delivery]] = {}
        for row in rows:
            by_source.setdefault(row.source, []).append(row)
        replies: dict[int, Reply] = {}
        for source, group in by_source.items():
            renderer = self.renderers.get(source)
            if renderer is None:
                log.error("no renderer for outbox source %s", source)
                continue
            replies.update(await renderer(session, group))
        langs = dict(
            (
                await session.execute(
                    select(Person.id, Person.language).where(
                        Person.id.in_({r.person_id for r in rows})
                    )
                )
            ).all()
        )
        prepared = []
        for row in rows:
            reply = replies.get(row.id)
            message = None
            if reply is not None:
                lang = langs.get(row.person_id, self.dispatcher.settings.default_language)
                message = await self.dispatcher.prepare(
                    session, row.platform, row.chat_id, lang, reply
                )
            prepared.append((row, message))
        return prepared

    async def _send(self, row: Delivery, message: OutMessage | None) -> Outcome:
        now = self.clock.now
        if message is None:
            return Outcome(row.id, DeliveryStatus.cancelled, now(), error="nothing to send")
        channel = self.dispatcher.channels.get(row.platform)
        if channel is None:
            return Outcome(row.id, DeliveryStatus.failed, now(), error=f"no {row.platform} channel")
        try:
            await channel.send(row.chat_id, message)
        except Unreachable:
            return Outcome(row.id, DeliveryStatus.unreachable, now(), error="unreachable")
        except RateLimited as exc:
            retry = now() + timedelta(seconds=exc.retry_after)
            return Outcome(row.id, DeliveryStatus.pending, now(), retry, "rate limited", False)
        except TransientError as exc:
            if row.attempts + 1 >= outbox.MAX_ATTEMPTS:
                return Outcome(row.id, DeliveryStatus.failed, now(), error=str(exc)[:200])
            retry = now() + outbox.backoff(row.attempts + 1)
            return Outcome(row.id, DeliveryStatus.pending, now(), retry, str(exc)[:200])
        except DeliveryError as exc:
            return Outcome(row.id, DeliveryStatus.failed, now(), error=str(exc)[:200])
        return Outcome(row.id, DeliveryStatus.sent, now())

    async def _start_broadcasts(self, session: AsyncSession, rows: Sequence[Delivery]) -> None:
        ids = {r.source_id for r in rows if r.source == broadcasts.SOURCE}
        for item in await session.scalars(select(Broadcast).where(Broadcast.id.in_(ids))):
            if item.status == BroadcastStatus.scheduled:
                item.status = BroadcastStatus.sending

    async def _report_progress(self, broadcast_ids: set[int]) -> None:
        """Keep the sender informed: edited in place on Telegram, at half and at the end on Zalo."""
        for broadcast_id in broadcast_ids:
            async with self.sessions() as session:
                item = await session.get(Broadcast, broadcast_id)
                if item is None or item.created_by is None:
                    continue
                counts = await outbox.counts(session, broadcasts.SOURCE, item.id)
                update = await self._progress_update(session, item, counts)
                await session.commit()
            if update is not None:
                ref = await self.dispatcher.deliver(update)
                if ref and update.message.edit_ref is None:
                    async with self.sessions() as session:
                        stored = await session.get(Broadcast, broadcast_id)
                        if stored is not None and stored.progress_ref is None:
                            stored.progress_ref = ref
                            await session.commit()

    async def _progress_update(
        self, session: AsyncSession, item: Broadcast, counts: dict[str, int]
    ) -> Outgoing | None:
        total = sum(n for s, n in counts.items() if s != DeliveryStatus.cancelled)
        waiting = counts.get(DeliveryStatus.pending, 0) + counts.get(DeliveryStatus.sending, 0)
        done = total - waiting
        finished = waiting == 0
        step = PROGRESS_STEPS if finished else (done * PROGRESS_STEPS) // max(total, 1)
        if item.progress_platform is None:
            sender = await self._sender_chat(session, item.created_by)
            if sender is None:
                return None
            item.progress_platform, item.progress_chat_id = sender
        edits = item.progress_platform == "telegram"
        wanted = step > item.progress_step or item.progress_ref is None
        if not edits:  # a new message each time: only the first, at half and at the end
            wanted = item.progress_ref is None or (step >= 5 > item.progress_step) or finished
        if finished:
            item.status = BroadcastStatus.done
            item.finished_at = self.clock.now()
        if not wanted:
            return None
        item.progress_step = step
        reply = await self._progress_reply(session, item, counts, total, done, finished)
        person = await session.get(Person, item.created_by)
        lang = person.language if person else self.dispatcher.settings.default_language
        edit_ref = item.progress_ref if edits else None
        assert item.progress_chat_id is not None
        message = await self.dispatcher.prepare(
            session, item.progress_platform, item.progress_chat_id, lang, reply, edit_ref
        )
        return Outgoing(item.progress_platform, item.progress_chat_id, message)

    async def _progress_reply(
        self,
        session: AsyncSession,
        item: Broadcast,
        counts: dict[str, int],
        total: int,
        done: int,
        finished: bool,
    ) -> Reply:
        sent = counts.get(DeliveryStatus.sent, 0)
        failed = counts.get(DeliveryStatus.failed, 0) + counts.get(DeliveryStatus.unreachable, 0)
        bar = "▓" * ((done * 10) // max(total, 1)) + "░" * (10 - (done * 10) // max(total, 1))
        if not finished:
            minutes = await self._minutes_left(session, item.id)
            return Reply(
                msg(
                    "broadcast.progress",
                    title=item.title,
                    bar=bar,
                    sent=sent,
                    total=total,
                    failed=failed,
                    minutes=minutes,
                )
            )
        parts = [
            msg("broadcast.finished", title=item.title, number=item.id, sent=sent, total=total)
        ]
        names = await self._unreachable_names(session, item.id)
        if names:
            parts.append(msg("broadcast.unreachable", count=len(names), names=", ".join(names)))
        return Reply(tuple(parts))

    async def _minutes_left(self, session: AsyncSession, broadcast_id: int) -> int:
        rows = await session.execute(
            select(Delivery.platform, func.count(Delivery.id))
            .where(
                Delivery.source == broadcasts.SOURCE,
                Delivery.source_id == broadcast_id,
                Delivery.status.in_([DeliveryStatus.pending, DeliveryStatus.sending]),
            )
            .group_by(Delivery.platform)
        )
        seconds = max((n / self.rates.get(p, 10.0) for p, n in rows), default=0.0)
        return max(1, round(seconds / 60))

    async def _unreachable_names(self, session: AsyncSession, broadcast_id: int) -> list[str]:
        rows = await session.scalars(
            select(Person.full_name)
            .join(Delivery, Delivery.person_id == Person.id)
            .where(
                Delivery.source == broadcasts.SOURCE,
                Delivery.source_id == broadcast_id,
                Delivery.status.in_([DeliveryStatus.unreachable, DeliveryStatus.failed]),
            )
            .order_by(Person.full_name)
        )
        return list(rows)

    async def _sender_chat(
        self, session: AsyncSession, person_id: int | None
    ) -> tuple[str, str] | None:
        if person_id is None:
            return None
        found = await outbox.recipients(session, [person_id])
        return (found[0].platform, found[0].chat_id) if found else None
