"""Cell meetings in chat: the rule (/lichhop), the meeting hub (/hop), RSVP, attendance, minutes."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

from bot.core.errors import UserError
from bot.core.events import Event, FileRef, Msg, Option, Reply, When, msg
from bot.core.i18n import translate
from bot.core.router import LEADERS, MEMBERS, Context, Replies, Router
from bot.handlers.common import typed_text
from bot.reports import attendance_report
from bot.services import attendance, files, meetings, outbox
from bot.services.meetings import NUDGE, RuleSpec
from bot.services.notices import describe, rsvp_options
from storage.meetings import Meeting, MeetingKind, MeetingStatus
from storage.models import Role

RULE_FLOW = "meeting_rule"
ADD_FLOW = "meeting_add"
EDIT_FLOW = "meeting_edit"
REASON_FLOW = "rsvp_reason"
READERS = MEMBERS | {Role.follower}
DATE_FORMATS = ("%d/%m/%Y %H:%M", "%d/%m/%Y %Hh%M", "%d-%m-%Y %H:%M", "%d/%m/%y %H:%M")
REASONS = ("sick", "work", "family")


def register(router: Router) -> None:
    """Wire the meeting commands, choices and flows."""
    router.command("lichhop", "schedule", access=LEADERS, help_key="help.lichhop")(schedule)
    router.choice("ml", access=LEADERS)(schedule_choice)
    router.flow(RULE_FLOW, access=LEADERS)(rule_step)
    router.flow(ADD_FLOW, access=LEADERS)(add_step)
    router.command("hop", "meeting", access=READERS, help_key="help.hop")(hub)
    router.choice("mh", access=LEADERS)(hub_choice)
    router.flow(EDIT_FLOW, access=LEADERS)(edit_step)
    router.choice("rsvp", access=MEMBERS)(rsvp)
    router.choice("rr", access=MEMBERS)(rsvp_reason_choice)
    router.flow(REASON_FLOW, access=MEMBERS)(rsvp_reason_typed)
    router.choice("mk", access=LEADERS)(mark)
    router.choice("mx", access=LEADERS)(excuse)
    router.command("bienban", "minutes", access=LEADERS, help_key="help.bienban")(minutes)
    router.command("baocaohop", "attendance", access=LEADERS, help_key="help.baocaohop")(export)


def _offsets(ctx: Context) -> list[int]:
    return ctx.settings.notice_offsets


def _parse_when(ctx: Context, text: str) -> datetime:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=ctx.settings.zone)
        except ValueError:
            continue
    raise UserError("meetings.bad_datetime")


# --- the rule and the calendar ---------------------------------------------------------


async def schedule(event: Event, ctx: Context) -> Replies:
    """/lichhop: the regular rule, the coming meetings, and what can be done."""
    assert ctx.unit_id is not None
    rule = await meetings.rule_of(ctx.session, ctx.unit_id)
    parts: list[Msg] = [msg("meetings.rule_none") if rule is None else _rule_text(rule)]
    coming = await meetings.upcoming(ctx.session, ctx.unit_id, ctx.now())
    if coming:
        parts.append(msg("meetings.coming"))
        parts += [describe(m, ctx.settings.zone) for m in coming]
    return Reply(
        tuple(parts),
        options=(
            Option("ml:rule", msg("meetings.set_rule")),
            Option("ml:add", msg("meetings.add_meeting")),
        ),
    )


def _rule_text(rule) -> Msg:  # type: ignore[no-untyped-def]
    if rule.day is not None:
        return msg("meetings.rule_day", day=rule.day, time=rule.time, place=rule.place)
    return msg(
        "meetings.rule_weekday",
        nth=msg(f"meetings.nth.{rule.nth}"),
        weekday=msg(f"meetings.weekday.{rule.weekday}"),
        time=rule.time,
        place=rule.place,
    )


async def schedule_choice(event: Event, ctx: Context) -> Replies:
    """ml:rule / ml:add start a flow; ml:type, ml:wd, ml:nth, ml:kind answer its questions."""
    parts = (event.data or "").split(":")
    what = parts[1] if len(parts) > 1 else ""
    if what == "rule":
        await ctx.start(event, RULE_FLOW, "type")
        return Reply(
            msg("meetings.ask_rule_type"),
            options=(
                Option("ml:type:day", msg("meetings.type_day")),
                Option("ml:type:weekday", msg("meetings.type_weekday")),
            ),
        )
    if what == "add":
        await ctx.start(event, ADD_FLOW, "kind")
        return Reply(
            msg("meetings.ask_kind"),
            options=tuple(
                Option(f"ml:kind:{k}", msg(f"meetings.kind.{k}"))
                for k in (MeetingKind.thematic, MeetingKind.extraordinary, MeetingKind.combined)
            ),
        )
    conv = ctx.conversation
    if conv is None or conv.flow not in (RULE_FLOW, ADD_FLOW) or len(parts) != 3:
        return Reply(msg("error.stale_choice"))
    if what == "type":
        if parts[2] == "day":
            await ctx.step(event, "day")
            return Reply(msg("meetings.ask_day"))
        await ctx.step(event, "weekday")
        return Reply(
            msg("meetings.ask_weekday"),
            options=tuple(Option(f"ml:wd:{d}", msg(f"meetings.weekday.{d}")) for d in range(7)),
            columns=2,
        )
    if what == "wd":
        await ctx.step(event, "nth", weekday=int(parts[2]))
        return Reply(
            msg("meetings.ask_nth"),
            options=tuple(
                Option(f"ml:nth:{n}", msg(f"meetings.nth.{n}")) for n in (1, 2, 3, 4, -1)
            ),
        )
    if what == "nth":
        await ctx.step(event, "time", nth=int(parts[2]))
        return Reply(msg("meetings.ask_time"))
    if what == "kind":
        await ctx.step(event, "when", kind=parts[2])
        return Reply(msg("meetings.ask_datetime"))
    if what == "place" and parts[2] == "rule":
        rule = await meetings.rule_of(ctx.session, ctx.unit_id or 0)
        if rule is None:
            return Reply(msg("meetings.ask_place"))
        return await _add_place(event, ctx, rule.place)
    return Reply(msg("error.stale_choice"))


async def rule_step(event: Event, ctx: Context) -> Replies:
    """Typed answers of the rule flow: the day, the time, the place."""
    assert ctx.conversation is not None and ctx.unit_id is not None
    step, data = ctx.conversation.step, ctx.conversation.data
    questions = {
        "day": "meetings.ask_day",
        "time": "meetings.ask_time",
        "place": "meetings.ask_place",
    }
    try:
        text = typed_text(event)
        if step == "day":
            if not text.isdigit() or not 1 <= int(text) <= 31:
                raise UserError("meetings.bad_day")
            await ctx.step(event, "time", day=int(text))
            return Reply(msg("meetings.ask_time"))
        if step == "time":
            at = meetings.parse_time(text)
            await ctx.step(event, "place", at=at.strftime("%H:%M"))
            return Reply(msg("meetings.ask_place"))
        if step == "place":
            spec = RuleSpec(
                data.get("day"), data.get("weekday"), data.get("nth"), str(data["at"]), text
            )
            rule = await meetings.set_rule(ctx.session, ctx.now(), ctx.unit_id, spec)
            made = await meetings.generate(
                ctx.session,
                ctx.now(),
                ctx.unit_id,
                ctx.settings.zone,
                ctx.settings.meeting_horizon_months,
                _offsets(ctx),
            )
            await ctx.finish(event)
            await ctx.audit("meetings.rule_set")
            return Reply(
                (
                    msg("meetings.rule_saved"),
                    _rule_text(rule),
                    msg("meetings.generated", count=len(made)),
                    *(describe(m, ctx.settings.zone) for m in made),
                )
            )
    except UserError as err:
        return Reply((msg(err.key, **err.params), msg(questions.get(step, "meetings.ask_time"))))
    return Reply(msg("error.choice_expected"))


async def add_step(event: Event, ctx: Context) -> Replies:
    """Typed answers of adding a meeting: when, where, the content."""
    assert ctx.conversation is not None and ctx.unit_id is not None
    step = ctx.conversation.step
    questions = {
        "when": "meetings.ask_datetime",
        "place": "meetings.ask_place",
        "content": "meetings.ask_content",
    }
    try:
        text = typed_text(event)
        if step == "when":
            when = _parse_when(ctx, text)
            if when <= ctx.now():
                raise UserError("meetings.in_past")
            await ctx.step(event, "place", when=when.isoformat())
            rule = await meetings.rule_of(ctx.session, ctx.unit_id)
            options = (
                (Option("ml:place:rule", msg("meetings.same_place", place=rule.place)),)
                if rule
                else ()
            )
            return Reply(msg("meetings.ask_place"), options=options)
        if step == "place":
            return await _add_place(event, ctx, text)
        if step == "content":
            return await _add_finish(event, ctx, text)
    except UserError as err:
        return Reply(
            (msg(err.key, **err.params), msg(questions.get(step, "meetings.ask_datetime")))
        )
    return Reply(msg("error.choice_expected"))


async def _add_place(event: Event, ctx: Context, place: str) -> Replies:
    if not place.strip():
        raise UserError("meetings.empty_place")
    await ctx.step(event, "content", place=place.strip()[:200])
    return Reply(msg("meetings.ask_content"))


async def _add_finish(event: Event, ctx: Context, content: str) -> Replies:
    assert ctx.conversation is not None and ctx.unit_id is not None
    data = ctx.conversation.data
    meeting = await meetings.add_meeting(
        ctx.session,
        ctx.now(),
        ctx.unit_id,
        kind=MeetingKind(str(data["kind"])),
        starts=datetime.fromisoformat(str(data["when"])),
        place=str(data["place"]),
        content=content[:4000],
        offsets=_offsets(ctx),
    )
    await ctx.finish(event)
    await ctx.audit("meetings.added", meeting_id=meeting.id, kind=meeting.kind)
    return Reply((msg("meetings.added"), describe(meeting, ctx.settings.zone)))


# --- the meeting hub -----------------------------------------------------------------


async def hub(event: Event, ctx: Context) -> Replies:
    """/hop: leaders see the live tally and actions; members see the meeting and answer."""
    assert ctx.unit_id is not None and ctx.person is not None
    meeting = await meetings.current(ctx.session, ctx.unit_id, ctx.now())
    if meeting is None:
        return Reply(msg("meetings.none_scheduled"))
    zone = ctx.settings.zone
    if not ctx.roles & LEADERS:
        parts: list[Msg] = [describe(meeting, zone)]
        if meeting.content:
            parts.append(msg("meetings.content", text=meeting.content))
        options = (
            rsvp_options(meeting.id)
            if ctx.roles & MEMBERS and meeting.starts_at > ctx.now()
            else ()
        )
        return Reply(tuple(parts), options=options)
    return await _tally_reply(ctx, meeting)


async def _tally_reply(ctx: Context, meeting: Meeting) -> Reply:
    counts = await attendance.tally(ctx.session, meeting)
    parts: list[Msg] = [describe(meeting, ctx.settings.zone)]
    if meeting.content:
        parts.append(msg("meetings.content", text=meeting.content))
    parts.append(
        msg(
            "meetings.tally_coming", count=len(counts.coming), names=", ".join(counts.coming) or "-"
        )
    )
    parts.append(msg("meetings.tally_absent", count=len(counts.absent)))
    parts += [msg("meetings.tally_absent_line", name=n, reason=r or "-") for n, r in counts.absent]
    parts.append(
        msg(
            "meetings.tally_silent",
            count=len(counts.silent),
            names=", ".join(n for _, n in counts.silent) or "-",
        )
    )
    mid = meeting.id
    options = [
        Option(f"mh:nudge:{mid}", msg("meetings.nudge")),
        Option(f"mh:mark:{mid}", msg("meetings.mark")),
        Option(f"mh:content:{mid}", msg("meetings.set_content")),
        Option(f"mh:move:{mid}", msg("meetings.move")),
        Option(f"mh:cancel:{mid}", msg("meetings.cancel")),
    ]
    return Reply(tuple(parts), options=tuple(options), compact=True)


async def hub_choice(event: Event, ctx: Context) -> Replies:
    """The hub's actions: nudge, mark attendance, content, move, cancel."""
    assert ctx.unit_id is not None
    parts = (event.data or "").split(":")
    if len(parts) != 3 or not parts[2].isdigit():
        return Reply(msg("error.stale_choice"))
    action, meeting = parts[1], await meetings.get(ctx.session, ctx.unit_id, int(parts[2]))
    if action == "nudge":
        counts = await attendance.tally(ctx.session, meeting)
        if meeting.starts_at <= ctx.now() or not counts.silent:
            return Reply(msg("meetings.nudge_nobody"))
        to = await outbox.recipients(ctx.session, [pid for pid, _ in counts.silent])
        sent = await outbox.enqueue(
            ctx.session, source=NUDGE, source_id=meeting.id, to=to, due_at=ctx.now()
        )
        ctx.wrote_outbox = True
        await ctx.audit("meetings.nudged", meeting_id=meeting.id, count=sent)
        return Reply(msg("meetings.nudged", count=sent))
    if action == "mark":
        await attendance.start_marking(ctx.session, ctx.now(), meeting)
        return await _roll_reply(ctx, meeting, edit=False)
    if action in ("content", "move"):
        await ctx.start(event, EDIT_FLOW, action, meeting_id=meeting.id)
        key = "meetings.ask_content" if action == "content" else "meetings.ask_move"
        return Reply(msg(key))
    if action == "cancel":
        return Reply(
            (msg("meetings.confirm_cancel"), describe(meeting, ctx.settings.zone)),
            options=(
                Option(f"mh:cancelyes:{meeting.id}", msg("meetings.cancel_yes")),
                Option(f"mh:keep:{meeting.id}", msg("meetings.cancel_no")),
            ),
        )
    if action == "cancelyes":
        told = await meetings.cancel(ctx.session, ctx.now(), meeting)
        ctx.wrote_outbox = True
        await ctx.audit("meetings.cancelled", meeting_id=meeting.id)
        return Reply(msg("meetings.cancelled", count=told), edit=True)
    if action == "keep":
        return Reply(msg("meetings.kept"), edit=True)
    return Reply(msg("error.stale_choice"))


async def edit_step(event: Event, ctx: Context) -> Replies:
    """Typed content, or a new time and place ("25/12/2026 19:30, Nhà văn hóa")."""
    assert ctx.conversation is not None and ctx.unit_id is not None
    step, data = ctx.conversation.step, ctx.conversation.data
    meeting = await meetings.get(ctx.session, ctx.unit_id, int(data["meeting_id"]))
    try:
        text = typed_text(event)
        if step == "content":
            meeting.content = text[:4000]
            await ctx.finish(event)
            await ctx.audit("meetings.content_set", meeting_id=meeting.id)
            return Reply((msg("meetings.content_saved"), describe(meeting, ctx.settings.zone)))
        when_text, _, place = text.partition(",")
        starts = (
            _parse_when(ctx, when_text)
            if when_text.strip() and when_text.strip()[0].isdigit()
            else None
        )
        place_text = place.strip() if starts is not None else text
        told = await meetings.reschedule(
            ctx.session, ctx.now(), meeting, starts=starts, place=place_text or None
        )
        ctx.wrote_outbox = True
        await ctx.finish(event)
        await ctx.audit("meetings.moved", meeting_id=meeting.id)
        return Reply((msg("meetings.moved", count=told), describe(meeting, ctx.settings.zone)))
    except UserError as err:
        key = "meetings.ask_content" if step == "content" else "meetings.ask_move"
        return Reply((msg(err.key, **err.params), msg(key)))


# --- answers --------------------------------------------------------------------------


async def rsvp(event: Event, ctx: Context) -> Replies:
    """Tham dự / Vắng mặt; absent asks for a reason."""
    assert ctx.unit_id is not None and ctx.person is not None
    parts = (event.data or "").split(":")
    if len(parts) != 3 or not parts[1].isdigit():
        return Reply(msg("error.stale_choice"))
    meeting = await meetings.get(ctx.session, ctx.unit_id, int(parts[1]))
    if parts[2] == "yes":
        await attendance.answer(ctx.session, ctx.now(), meeting, ctx.person.id, coming=True)
        await ctx.finish_any(event)
        return Reply((msg("meetings.thanks_yes"), describe(meeting, ctx.settings.zone)), edit=True)
    await attendance.answer(ctx.session, ctx.now(), meeting, ctx.person.id, coming=False)
    await ctx.start(event, REASON_FLOW, "reason", meeting_id=meeting.id)
    return Reply(
        msg("meetings.ask_reason"),
        options=tuple(Option(f"rr:{meeting.id}:{r}", msg(f"meetings.reason.{r}")) for r in REASONS),
        edit=True,
    )


async def rsvp_reason_choice(event: Event, ctx: Context) -> Replies:
    """A common reason picked from the list."""
    assert ctx.unit_id is not None and ctx.person is not None
    parts = (event.data or "").split(":")
    if len(parts) != 3 or parts[2] not in REASONS:
        return Reply(msg("error.stale_choice"))
    meeting = await meetings.get(ctx.session, ctx.unit_id, int(parts[1]))
    reason = msg(f"meetings.reason.{parts[2]}")
    # Stored as words in the cell's language: the minutes quote reasons as given.
    await attendance.answer(
        ctx.session,
        ctx.now(),
        meeting,
        ctx.person.id,
        coming=False,
        reason=translate(ctx.settings.default_language, reason),
    )
    await ctx.finish_any(event)
    return Reply(msg("meetings.thanks_no", reason=reason), edit=True)


async def rsvp_reason_typed(event: Event, ctx: Context) -> Replies:
    """A reason in the member's own words."""
    assert ctx.conversation is not None and ctx.unit_id is not None and ctx.person is not None
    meeting = await meetings.get(ctx.session, ctx.unit_id, int(ctx.conversation.data["meeting_id"]))
    try:
        text = typed_text(event)
        await attendance.answer(
            ctx.session, ctx.now(), meeting, ctx.person.id, coming=False, reason=text
        )
    except UserError as err:
        return Reply(
            (msg(err.key, **err.params), msg("meetings.ask_reason")),
            options=tuple(
                Option(f"rr:{meeting.id}:{r}", msg(f"meetings.reason.{r}")) for r in REASONS
            ),
        )
    await ctx.finish(event)
    return Reply(msg("meetings.thanks_no", reason=text))


# --- attendance ------------------------------------------------------------------------


async def _roll_reply(ctx: Context, meeting: Meeting, *, edit: bool) -> Reply:
    roll = await attendance.roll(ctx.session, meeting.id)
    options = [
        Option(
            f"mk:{meeting.id}:{row.person_id}",
            msg("meetings.mark_present" if row.present else "meetings.mark_absent", name=name),
        )
        for row, name in roll
    ]
    options.append(Option(f"mk:{meeting.id}:done", msg("meetings.mark_done"), ("xong",)))
    present = sum(1 for row, _ in roll if row.present)
    return Reply(
        msg("meetings.mark_title", present=present, total=len(roll)),
        options=tuple(options),
        edit=edit,
    )


async def mark(event: Event, ctx: Context) -> Replies:
    """Toggle one member present/absent; "Xong" moves on to the absences' reasons."""
    assert ctx.unit_id is not None
    parts = (event.data or "").split(":")
    meeting = await meetings.get(ctx.session, ctx.unit_id, int(parts[1]))
    if parts[2] == "done":
        return await _next_excuse(ctx, meeting)
    await attendance.toggle(ctx.session, meeting, int(parts[2]))
    return await _roll_reply(ctx, meeting, edit=True)


async def _next_excuse(ctx: Context, meeting: Meeting) -> Replies:
    for row, name in await attendance.roll(ctx.session, meeting.id):
        if not row.present and row.excused is None:
            return Reply(
                msg("meetings.ask_excuse", name=name, reason=row.reason or "-"),
                options=(
                    Option(
                        f"mx:{meeting.id}:{row.person_id}:y", msg("meetings.excused_yes"), ("co",)
                    ),
                    Option(
                        f"mx:{meeting.id}:{row.person_id}:n", msg("meetings.excused_no"), ("khong",)
                    ),
                ),
            )
    return await _close(ctx, meeting)


async def excuse(event: Event, ctx: Context) -> Replies:
    """Whether an absence reason is accepted (the committee's call), then the next one."""
    assert ctx.unit_id is not None
    parts = (event.data or "").split(":")
    meeting = await meetings.get(ctx.session, ctx.unit_id, int(parts[1]))
    if meeting.status != MeetingStatus.scheduled:
        raise UserError("meetings.not_open")
    for row, _ in await attendance.roll(ctx.session, meeting.id):
        if row.person_id == int(parts[2]):
            row.excused = parts[3] == "y"
    return await _next_excuse(ctx, meeting)


async def _close(ctx: Context, meeting: Meeting) -> Replies:
    figures = await attendance.close(ctx.session, ctx.now(), meeting)
    await ctx.audit("meetings.closed", meeting_id=meeting.id)
    target = ctx.settings.attendance_target_percent
    ok = figures.rate > target and not figures.unexcused
    parts: list[Msg] = [
        msg("meetings.closed"),
        *_minutes_parts(figures),
        msg(
            "meetings.criteria_ok" if ok else "meetings.criteria_missed",
            rate=f"{figures.rate:.0f}",
            target=f"{target:.0f}",
        ),
    ]
    since = _flag_since(ctx, meeting)
    for flag in await attendance.flags(
        ctx.session,
        meeting,
        since=since,
        warn_at=ctx.settings.unexcused_warn,
        alert_at=ctx.settings.unexcused_alert,
        streak_over=ctx.settings.excused_streak_over,
    ):
        parts.append(msg(f"meetings.flag_{flag.kind}", name=flag.name, count=flag.count))
    return Reply(tuple(parts), compact=True)


def _flag_since(ctx: Context, meeting: Meeting) -> datetime:
    local = meeting.starts_at.astimezone(ctx.settings.zone)
    if ctx.settings.flag_year == "calendar":
        return datetime(local.year, 1, 1, tzinfo=ctx.settings.zone)
    return datetime(local.year - 1, local.month, 1, tzinfo=ctx.settings.zone)


def _minutes_parts(figures: attendance.Figures) -> list[Msg]:
    return [
        msg("meetings.minutes_present", present=figures.present, total=figures.counted),
        msg(
            "meetings.minutes_excused",
            count=len(figures.excused),
            names="; ".join(f"{n} ({r or '-'})" for n, r in figures.excused) or "-",
        ),
        msg(
            "meetings.minutes_unexcused",
            count=len(figures.unexcused),
            names=", ".join(figures.unexcused) or "-",
        ),
    ]


async def minutes(event: Event, ctx: Context) -> Replies:
    """/bienban: the attendance part of the minutes, ready to copy."""
    assert ctx.unit_id is not None
    meeting = await meetings.latest_started(ctx.session, ctx.unit_id, ctx.now())
    if meeting is None:
        return Reply(msg("meetings.no_minutes"))
    figures = await attendance.figures(ctx.session, meeting.id)
    if not figures.counted:
        return Reply((msg("meetings.not_marked"), describe(meeting, ctx.settings.zone)))
    return Reply(
        (
            msg("meetings.minutes_title", when=When(meeting.starts_at, ctx.settings.zone)),
            *_minutes_parts(figures),
        ),
        compact=True,
    )


async def export(event: Event, ctx: Context) -> Replies:
    """/baocaohop [năm]: the year's attendance as a spreadsheet, sent as a file."""
    assert ctx.unit_id is not None
    year = ctx.now().astimezone(ctx.settings.zone).year
    if event.args.strip():
        if not event.args.strip().isdigit() or not 2000 <= int(event.args.strip()) <= 2100:
            return Reply(msg("meetings.bad_year"))
        year = int(event.args.strip())
    with tempfile.TemporaryDirectory() as folder:
        path = await attendance_report(
            ctx.session,
            ctx.unit_id,
            year,
            ctx.lang,
            ctx.settings.zone,
            Path(folder) / f"diem-danh-{year}.xlsx",
        )
        content = path.read_bytes()
    stored = await files.store(
        ctx.session,
        ctx.now(),
        file_name=path.name,
        content=content,
        mime_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    await ctx.audit("meetings.exported", year=year)
    return Reply(msg("meetings.export_ready", year=year), file=FileRef(stored.id))
