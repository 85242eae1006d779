"""The delivery worker: claims due outbox rows, sends them at each platform's pace, records them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from asyncio import FIRST_COMPLETED
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
FLUSH_SECONDS = 0.2  # outcomes are recorded at least this often while sending
SWEEP_SECONDS = 60.0  # how often the lease of other workers' claims is checked
PROGRESS_SECONDS = 2.0  # at most one progress update per broadcast this often
STOP_GRACE = 10.0


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
        name: str | None = None,
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
        self.name = name or socket.gethostname()
        # SQLite allows one writer process, so a worker starting on it may take back every
        # claim; on PostgreSQL only its own (by name), others' after the lease.
        self.single_worker = dispatcher.sessions.kw.get("bind") is not None and (
            dispatcher.sessions.kw["bind"].dialect.name == "sqlite"
        )
        self._kick = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._outcomes: list[tuple[Outcome, int | None]] = []
        self._touched: set[int] = set()
        self._progress_at: dict[int, float] = {}

    def kick(self) -> None:
        """New rows were written: look now rather than at the next idle tick."""
        self._kick.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set.

        A pipeline, not batches: while sends are under way (each paced by its platform's
        limiter) more rows are claimed, so the pace never stalls between batches. Each
        outcome is recorded within a fraction of a second of its send, so a crash can
        repeat only the messages truly in flight.
        """
        await self._take_back_own_claims()
        last_sweep = time.monotonic()
        while not stop.is_set():
            try:
                started = 0
                if len(self._inflight) <= self.batch // 2:
                    started = await self._claim_and_start(self.batch - len(self._inflight))
                await self._flush(force=not self._inflight)
                if time.monotonic() - last_sweep > SWEEP_SECONDS:
                    last_sweep = time.monotonic()
                    await self._sweep()
            except Exception:  # the worker's run loop must survive any single failure
                log.exception("delivery loop failed")
                started = 0
                await asyncio.sleep(self.idle_seconds)
            if self._inflight:
                await asyncio.wait(
                    self._inflight, timeout=FLUSH_SECONDS, return_when=FIRST_COMPLETED
                )
            elif not started:
                self._kick.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._kick.wait(), timeout=self.idle_seconds)
        # Stopping: let the sends under way finish, and record them.
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=STOP_GRACE)
        await self._flush(force=True)

    async def run_once(self) -> int:
        """Claim, send and record what is due now (tests and benchmarks)."""
        count = await self._claim_and_start(self.batch)
        if self._inflight:
            await asyncio.wait(self._inflight)
        await self._flush(force=True)
        return count

    async def _take_back_own_claims(self) -> None:
        async with self.sessions() as session:
            released = await outbox.release_own(session, self.name, everyone=self.single_worker)
            await session.commit()
        if released:
            log.warning("%d deliveries were claimed before a restart; sending them again", released)

    async def _sweep(self) -> None:
        """Take back rows claimed by a worker that died and has not come back."""
        async with self.sessions() as session:
            released = await outbox.release_stale(session, self.clock.now())
            await session.commit()
        if released:
            log.warning("%d deliveries of a vanished worker are sent again", released)

    async def _claim_and_start(self, room: int) -> int:
        if room <= 0:
            return 0
        async with self.sessions() as session:
            rows = await outbox.claim(session, self.clock.now(), room, worker=self.name)
            await session.commit()
        if not rows:
            return 0
        try:
            async with self.sessions() as session:
                prepared = await self._prepare(session, rows)
                await self._start_broadcasts(session, rows)
                await session.commit()
        except BaseException:
            async with self.sessions() as session:
                await outbox.release_mine(session, [r.id for r in rows])
                await session.commit()
            raise
        for row, message in prepared:
            task = asyncio.create_task(self._send_and_note(row, message))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        return len(rows)

    async def _send_and_note(self, row: Delivery, message: OutMessage | None) -> None:
        outcome = await self._send(row, message)
        broadcast_id = row.source_id if row.source == broadcasts.SOURCE else None
        self._outcomes.append((outcome, broadcast_id))

    async def _flush(self, force: bool = False) -> None:
        """Record the outcomes so far (one transaction), then update senders' progress.

        Progress goes at most every PROGRESS_SECONDS per broadcast, unless `force`
        (nothing is in flight: the broadcast may be finished, and the sender waits).
        """
        if self._outcomes:
            outcomes, self._outcomes = self._outcomes, []
            async with self.sessions() as session:
                await outbox.record(session, [o for o, _ in outcomes])
                await session.commit()
            # Only what is recorded counts as touched: progress then reads settled rows.
            self._touched |= {b for _, b in outcomes if b is not None}
        if not self._touched:
            return
        touched, self._touched = self._touched, set()
        now = time.monotonic()
        due = {
            b for b in touched if force or now - self._progress_at.get(b, 0.0) >= PROGRESS_SECONDS
        }
        self._touched |= touched - due  # the rest waits for the next flush
        for b in due:
            self._progress_at[b] = now
        await self._report_progress(due)

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
        def outcome(
            status: DeliveryStatus,
            error: str | None = None,
            retry: timedelta | None = None,
            counts: bool = True,
        ) -> Outcome:
            now = self.clock.now()
            return Outcome(
                delivery_id=row.id,
                status=status,
                attempts=row.attempts + (1 if counts else 0),
                due_at=now + retry if retry is not None else row.due_at,
                sent_at=now if status is DeliveryStatus.sent else None,
                error=error[:200] if error else None,
            )

        if message is None:
            return outcome(DeliveryStatus.cancelled, "nothing to send", counts=False)
        channel = self.dispatcher.channels.get(row.platform)
        if channel is None:
            return outcome(DeliveryStatus.failed, f"no {row.platform} channel")
        try:
            await channel.send(row.chat_id, message)
        except Unreachable:
            return outcome(DeliveryStatus.unreachable, "unreachable")
        except RateLimited as exc:
            return outcome(
                DeliveryStatus.pending,
                "rate limited",
                timedelta(seconds=exc.retry_after),
                counts=False,
            )
        except TransientError as exc:
            if row.attempts + 1 >= outbox.MAX_ATTEMPTS:
                return outcome(DeliveryStatus.failed, str(exc))
            return outcome(DeliveryStatus.pending, str(exc), outbox.backoff(row.attempts + 1))
        except DeliveryError as exc:
            return outcome(DeliveryStatus.failed, str(exc))
        return outcome(DeliveryStatus.sent)

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
