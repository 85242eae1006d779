"""Help, cancel and language: available to everyone."""

from __future__ import annotations

from bot.core import state
from bot.core.events import Event, Option, Reply, msg
from bot.core.router import JOINED, Context, Replies, Router


def register(router: Router) -> None:
    """Wire help, cancel and language."""
    router.command("giupdo", "help", access=None, help_key="help.help")(show_help)
    router.command("huy", "cancel", access=None, help_key="help.cancel")(cancel)
    router.command("ngonngu", "language", access=JOINED, help_key="help.language")(language)
    router.choice("lang", access=JOINED)(set_language)


async def show_help(event: Event, ctx: Context) -> Replies:
    """/giupdo: only the commands of the person's roles."""
    joined = ctx.person is not None
    lines = [
        msg("help.line", command=cmd.names[0], text=msg(cmd.help_key))
        for cmd in ctx.router.visible(ctx.roles, joined)
    ]
    head = msg("help.title_joined") if joined else msg("help.title_stranger")
    return Reply((head, *lines, msg("help.footer")), compact=True)


async def cancel(event: Event, ctx: Context) -> Replies:
    """/huy: leave whatever flow this chat is in."""
    had_flow = await ctx.finish_any(event)
    await state.withdraw(ctx.session, event.platform, event.chat_id)
    return Reply(msg("cancel.done" if had_flow else "cancel.nothing"))


async def language(event: Event, ctx: Context) -> Replies:
    """/ngonngu: choose Vietnamese or English."""
    return Reply(
        msg("language.ask"),
        options=(
            Option("lang:vi", msg("language.vi"), ("tieng viet", "vi")),
            Option("lang:en", msg("language.en"), ("english", "en", "tieng anh")),
        ),
    )


async def set_language(event: Event, ctx: Context) -> Replies:
    """Store the chosen language and answer in it."""
    assert ctx.person is not None and event.data
    ctx.person.language = event.data.split(":", 1)[1]
    ctx.lang = ctx.person.language
    ctx.refresh_menu(ctx.person.id)
    return Reply(msg("language.set"), edit=True)
