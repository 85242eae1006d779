"""The simulator speaks Telegram's and Zalo's JSON to real clients and scripts people."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, RetryAfter
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.simulator import RunningSimulator, SimulatorClient, run_simulator
from bot.simulator.server import serve_app

FIXTURES = Path(__file__).parent / "fixtures"
TG_TOKEN = "7100000001:AAH-simulated_token_0001"
ZALO_TOKEN = "1459232241454765289:sim-zalo-token_01"
JPEG_MAGIC = b"\xff\xd8\xff"
VOTE = [(1, "Đồng ý"), (2, "Không đồng ý")]


def fixture(platform: str, name: str) -> Any:
    """Load a recorded payload."""
    return json.loads((FIXTURES / platform / f"{name}.json").read_text(encoding="utf-8"))


def shape(value: Any) -> Any:
    """The keys and value types of a JSON document, without the values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


@pytest.fixture
async def running() -> AsyncIterator[RunningSimulator]:
    """A simulator on a free port."""
    async with run_simulator() as sim:
        yield sim


@pytest.fixture
async def control(running: RunningSimulator) -> AsyncIterator[SimulatorClient]:
    """A control-API client for it."""
    async with SimulatorClient(running.base_url) as client:
        yield client


@pytest.fixture
async def tg_bot(running: RunningSimulator) -> AsyncIterator[Bot]:
    """python-telegram-bot pointed at the simulator (initialising it calls getMe)."""
    bot = Bot(
        TG_TOKEN,
        base_url=running.telegram_base_url,
        base_file_url=running.telegram_file_base_url,
    )
    async with bot:
        yield bot


@pytest.fixture
async def zalo_http(running: RunningSimulator) -> AsyncIterator[httpx.AsyncClient]:
    """A raw HTTP client on the Zalo bot URL; it has already called getMe."""
    async with httpx.AsyncClient(base_url=f"{running.zalo_base_url}/bot{ZALO_TOKEN}") as http:
        assert (await http.post("/getMe", json={})).status_code == 200
        yield http


# ----- Telegram through python-telegram-bot --------------------------------------


async def test_telegram_conversation_with_python_telegram_bot(
    tg_bot: Bot, control: SimulatorClient
) -> None:
    """Updates, keyboards, button presses, edits, files and command menus all parse."""
    me = await tg_bot.get_me()
    assert (me.id, me.username, me.first_name) == (7100000001, "loaphuong_sim_bot", "Loa Phường")
    lan = await control.new_user("telegram", "Nguyễn Thị Lan", language_code="vi")
    assert lan.user_id == 6100001

    await lan.say("/start K7M2QX9P")
    [update] = await tg_bot.get_updates(timeout=2)

    message = update.message
    assert message.text == "/start K7M2QX9P"
    assert message.parse_entities([MessageEntity.BOT_COMMAND]) == {message.entities[0]: "/start"}
    assert (message.from_user.first_name, message.from_user.last_name) == ("Lan", "Nguyễn Thị")
    assert message.from_user.language_code == "vi"
    assert message.chat.id == lan.chat_id

    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Tham dự", callback_data="rsvp:42:yes"),
                InlineKeyboardButton("Vắng mặt", callback_data="rsvp:42:no"),
            ]
        ]
    )
    sent = await tg_bot.send_message(
        lan.chat_id, "Sinh hoạt chi bộ tháng 12", reply_markup=keyboard
    )
    [item] = await lan.expect()
    assert item["buttons"] == [
        [
            {"text": "Tham dự", "data": "rsvp:42:yes", "url": None},
            {"text": "Vắng mặt", "data": "rsvp:42:no", "url": None},
        ]
    ]
    assert (item["method"], item["message_id"]) == ("sendMessage", sent.message_id)

    await control.press(lan.user_id, "rsvp:42:yes")
    [update] = await tg_bot.get_updates(offset=update.update_id + 1, timeout=2)
    query = update.callback_query
    assert query.data == "rsvp:42:yes"
    assert query.message.message_id == sent.message_id
    assert query.message.reply_markup == keyboard
    assert await query.answer("Đã ghi nhận") is True

    edited = await tg_bot.edit_message_text(
        "Sinh hoạt chi bộ tháng 12: bạn tham dự", chat_id=lan.chat_id, message_id=sent.message_id
    )
    assert edited.text == "Sinh hoạt chi bộ tháng 12: bạn tham dự"
    [item] = await lan.expect()
    assert (item["method"], item["buttons"]) == ("editMessageText", None)

    doc = await tg_bot.send_document(
        lan.chat_id, document=b"%PDF-1.4 bien ban", filename="biên bản.pdf", caption="Biên bản"
    )
    assert (doc.document.file_name, doc.document.mime_type) == ("biên bản.pdf", "application/pdf")
    file = await tg_bot.get_file(doc.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"%PDF-1.4 bien ban"
    [item] = await lan.expect()
    assert item["document"] == {"file_name": "biên bản.pdf", "file_id": doc.document.file_id}
    assert item["caption"] == "Biên bản"

    scope = BotCommandScopeChat(lan.chat_id)
    commands = [BotCommand("start", "Bắt đầu"), BotCommand("hop", "Lịch họp")]
    assert await tg_bot.set_my_commands(commands, scope=scope, language_code="vi")
    assert await tg_bot.get_my_commands(scope=scope, language_code="vi") == tuple(commands)
    assert await control.commands() == {
        TG_TOKEN: [
            {
                "scope": {"type": "chat", "chat_id": lan.chat_id},
                "language_code": "vi",
                "commands": [
                    {"command": "start", "description": "Bắt đầu"},
                    {"command": "hop", "description": "Lịch họp"},
                ],
            }
        ]
    }


async def test_telegram_photo_location_and_long_poll(tg_bot: Bot, control: SimulatorClient) -> None:
    """A long poll returns as soon as a photo arrives; its largest size downloads."""
    minh = await control.new_user("telegram", "Trần Văn Minh")
    poll = asyncio.create_task(tg_bot.get_updates(timeout=20))
    await asyncio.sleep(0.1)
    started = time.monotonic()

    await minh.send_photo(caption="Đèn đường hỏng ở ngõ 12")
    [update] = await poll

    assert time.monotonic() - started < 2
    photo = update.message.photo
    assert [size.width for size in photo] == sorted(size.width for size in photo)
    assert len(photo) == 3
    assert update.message.caption == "Đèn đường hỏng ở ngõ 12"
    data = await (await photo[-1].get_file()).download_as_bytearray()
    assert bytes(data[:3]) == JPEG_MAGIC

    await minh.send_location(21.0361, 106.7729)
    updates = await tg_bot.get_updates(offset=update.update_id + 1)
    location = updates[0].message.location
    assert (location.latitude, location.longitude) == (21.0361, 106.7729)


async def test_telegram_text_checks(tg_bot: Bot, control: SimulatorClient) -> None:
    """HTML is rendered for the reader; bad HTML, long text and unknown chats are refused."""
    lan = await control.new_user("telegram", "Nguyễn Thị Lan")
    stranger = await control.new_user("telegram", "Lê Văn Tư")
    await lan.say("/start")

    await tg_bot.send_message(lan.chat_id, "<b>Họp</b> chi bộ &amp; tổ dân phố", parse_mode="HTML")
    [item] = await lan.expect()
    assert item["text"] == "Họp chi bộ & tổ dân phố"

    with pytest.raises(BadRequest, match="parse entities"):
        await tg_bot.send_message(lan.chat_id, "<div>Họp</div>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="too long"):
        await tg_bot.send_message(lan.chat_id, "a" * 4097)
    with pytest.raises(Forbidden, match="can't initiate conversation"):
        await tg_bot.send_message(stranger.chat_id, "Xin chào")


async def test_telegram_per_chat_burst_then_429(
    running: RunningSimulator,
    control: SimulatorClient,
    tg_bot: Bot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three quick sends to one chat pass, the fourth gets 429 with retry_after."""
    # PTB 22.8 warns inside RetryAfter.__init__ unless retry_after is opted into timedelta.
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    lan = await control.new_user("telegram", "Nguyễn Thị Lan")
    await lan.say("/start")
    url = f"{running.telegram_base_url}{TG_TOKEN}/sendMessage"

    async with httpx.AsyncClient() as http:
        for number in range(3):
            answer = await http.post(url, json={"chat_id": lan.chat_id, "text": f"Tin {number}"})
            assert answer.status_code == 200
        refused = await http.post(url, data={"chat_id": str(lan.chat_id), "text": "Tin 3"})

    assert refused.status_code == 429
    assert refused.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    with pytest.raises(RetryAfter) as refused_by_ptb:
        await tg_bot.send_message(lan.chat_id, "Tin 4")
    assert refused_by_ptb.value.retry_after == timedelta(seconds=1)
    stats = (await control.stats("telegram"))["telegram"][TG_TOKEN]
    assert (stats["sent"], stats["rate_limited"], stats["max_in_any_second"]) == (3, 2, 3)
    assert stats["per_chat"] == {str(lan.chat_id): 3}


async def test_telegram_limits_change_and_blocked_user(
    tg_bot: Bot, control: SimulatorClient
) -> None:
    """Limits can be lifted; a person who blocked the bot makes sends fail with Forbidden."""
    lan = await control.new_user("telegram", "Nguyễn Thị Lan")
    await lan.say("/start")
    limits = await control.set_limits("telegram", per_chat_per_s=None, global_per_s=None)
    assert (limits["per_chat_per_s"], limits["global_per_s"]) == (None, None)
    for number in range(10):
        await tg_bot.send_message(lan.chat_id, f"Tin {number}")

    await control.block("telegram", lan.user_id)

    with pytest.raises(Forbidden, match="blocked by the user"):
        await tg_bot.send_message(lan.chat_id, "Còn đó không?")
    assert len(await lan.drain(quiet=0.05)) == 10


async def test_telegram_raw_errors(running: RunningSimulator) -> None:
    """Method names ignore case; unknown methods are 404 and bad tokens 401."""
    base = running.telegram_base_url
    async with httpx.AsyncClient() as http:
        me = await http.get(f"{base}{TG_TOKEN}/GETME")
        unknown = await http.post(f"{base}{TG_TOKEN}/sendPoll", json={})
        malformed = await http.post(f"{base}12345:short/getMe")

    assert me.json()["result"]["is_bot"] is True
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    assert (malformed.status_code, malformed.json()["description"]) == (401, "Unauthorized")


async def test_python_telegram_bot_application_polls(
    running: RunningSimulator, control: SimulatorClient
) -> None:
    """A PTB Application with handlers answers a scripted person through polling."""

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        buttons = [InlineKeyboardButton(label, callback_data=f"v:{n}") for n, label in VOTE]
        code = " ".join(context.args or [])
        await update.message.reply_text(f"Mã {code}", reply_markup=InlineKeyboardMarkup([buttons]))

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer()
        await update.callback_query.edit_message_text(f"Đã chọn {update.callback_query.data}")

    application = (
        ApplicationBuilder()
        .token(TG_TOKEN)
        .base_url(running.telegram_base_url)
        .base_file_url(running.telegram_file_base_url)
        .build()
    )
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CallbackQueryHandler(pressed))
    lan = await control.new_user("telegram", "Nguyễn Thị Lan")
    async with application:
        await application.start()
        await application.updater.start_polling(poll_interval=0, timeout=10)

        await lan.say("/start K7M2QX9P")
        asked = await lan.expect_text("Mã K7M2QX9P")
        await lan.choose("Không đồng ý")
        [edited] = await lan.expect()

        await application.updater.stop()
        await application.stop()
    assert asked["buttons"][0][1] == {"text": "Không đồng ý", "data": "v:2", "url": None}
    assert (edited["method"], edited["text"]) == ("editMessageText", "Đã chọn v:2")


async def test_stopping_ends_pending_long_polls() -> None:
    """Leaving run_simulator answers a pending long poll at once instead of hanging."""
    async with httpx.AsyncClient() as http:
        async with run_simulator() as running:
            url = f"{running.zalo_base_url}/bot{ZALO_TOKEN}/getUpdates"
            poll = asyncio.create_task(http.post(url, json={"timeout": 30}))
            await asyncio.sleep(0.2)
            started = time.monotonic()
        answer = await poll

    assert time.monotonic() - started < 3
    assert answer.json()["error_code"] == 408


async def test_expect_reports_what_arrived(
    control: SimulatorClient, zalo_http: httpx.AsyncClient
) -> None:
    """expect() fails with the messages that did arrive; drain() then collects them."""
    lan = await control.new_user("zalo", "Nguyễn Thị Lan")
    await lan.say("Xin chào")
    await zalo_http.post("/sendMessage", json={"chat_id": lan.chat_id, "text": "Chào Lan"})

    with pytest.raises(AssertionError, match="Chào Lan"):
        await lan.expect(count=2, timeout=0.2)
    assert [item["text"] for item in await lan.drain(quiet=0.05)] == ["Chào Lan"]


# ----- Zalo through raw HTTP ----------------------------------------------------


async def test_zalo_api_shapes(
    running: RunningSimulator, control: SimulatorClient, zalo_http: httpx.AsyncClient
) -> None:
    """getMe, getUpdates (one update, then 408) and sendMessage look like the fixtures."""
    me = (await zalo_http.post("/getMe", json={})).json()
    assert me == {
        "ok": True,
        "result": {
            "id": "1459232241454765289",
            "account_name": "bot.LoaPhuongSim",
            "account_type": "BASIC",
            "can_join_groups": False,
        },
    }
    lan = await control.new_user("zalo", "Nguyễn Thị Lan")
    await lan.say("K7M2QX9P")

    update = (await zalo_http.post("/getUpdates", json={"timeout": "30"})).json()

    assert shape(update) == shape(fixture("zalo", "getupdates_text"))
    message = update["result"]["message"]
    assert (message["text"], message["from"]["display_name"]) == ("K7M2QX9P", "Nguyễn Thị Lan")
    assert message["chat"]["id"] == lan.chat_id
    assert len(message["message_id"]) == 20
    started = time.monotonic()
    empty = await zalo_http.post("/getUpdates", json={"timeout": 1})
    assert time.monotonic() - started >= 0.9
    assert (empty.status_code, empty.json()) == (200, fixture("zalo", "error_408_no_update"))

    too_long = await zalo_http.post(
        "/sendMessage", json={"chat_id": lan.chat_id, "text": "a" * 2001}
    )
    assert (too_long.status_code, too_long.json()) == (
        400,
        fixture("zalo", "error_400_text_length"),
    )
    ok = await zalo_http.post("/sendMessage", json={"chat_id": lan.chat_id, "text": "Chào Lan"})
    assert shape(ok.json()) == shape(fixture("zalo", "sendmessage_ok"))
    assert (await lan.expect())[0]["text"] == "Chào Lan"


async def test_zalo_quota_and_rejected_token(
    running: RunningSimulator, control: SimulatorClient, zalo_http: httpx.AsyncClient
) -> None:
    """Sends over the quota get 429; a rejected token gets 401."""
    lan = await control.new_user("zalo", "Nguyễn Thị Lan")
    await lan.say("Xin chào")
    await control.set_limits("zalo", global_per_s=1, global_burst=2)
    answers = [
        await zalo_http.post("/sendMessage", json={"chat_id": lan.chat_id, "text": f"Tin {n}"})
        for n in range(3)
    ]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[2].json() == fixture("zalo", "error_429_quota")
    assert (await control.stats("zalo"))["zalo"][ZALO_TOKEN]["rate_limited"] == 1

    await control.options("zalo", reject_token=ZALO_TOKEN)

    refused = await zalo_http.post("/getMe", json={})
    assert (refused.status_code, refused.json()) == (401, fixture("zalo", "error_401_token"))
    malformed = await zalo_http.post(f"{running.zalo_base_url}/botnot-a-token/getMe")
    assert malformed.status_code == 401


async def test_zalo_location_is_refused(
    control: SimulatorClient, zalo_http: httpx.AsyncClient
) -> None:
    """Zalo bots never receive locations: the control API says so."""
    lan = await control.new_user("zalo", "Nguyễn Thị Lan")

    with pytest.raises(Exception, match="400"):
        await lan.send_location(21.0, 106.0)


# ----- webhooks -------------------------------------------------------------------


@dataclass
class Receiver:
    """A webhook endpoint that fails its first `failures` calls, then records bodies."""

    failures: int = 0
    calls: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def endpoint(self, request: Request) -> JSONResponse:
        self.calls.append((dict(request.headers), await request.json()))
        if len(self.calls) <= self.failures:
            return JSONResponse({"error": "try again"}, status_code=500)
        self.arrived.set()
        return JSONResponse({"ok": True})


@asynccontextmanager
async def webhook_receiver(failures: int = 0) -> AsyncIterator[tuple[Receiver, str]]:
    """Serve a Receiver on a free port with another uvicorn."""
    receiver = Receiver(failures)
    app = Starlette(routes=[Route("/hook", receiver.endpoint, methods=["POST"])])
    async with serve_app(app) as url:
        yield receiver, f"{url}/hook"


async def test_telegram_webhook_push(tg_bot: Bot, control: SimulatorClient) -> None:
    """Updates are POSTed with the secret header, retried after a 500; getUpdates conflicts."""
    lan = await control.new_user("telegram", "Nguyễn Thị Lan", language_code="vi")
    async with webhook_receiver(failures=1) as (receiver, url):
        assert await tg_bot.set_webhook(url, secret_token="s3cret_Token-1")
        with pytest.raises(Conflict):
            await tg_bot.get_updates()

        await lan.say("/start K7M2QX9P")
        await asyncio.wait_for(receiver.arrived.wait(), 5)

    headers, body = receiver.calls[-1]
    assert headers["x-telegram-bot-api-secret-token"] == "s3cret_Token-1"
    assert body["message"]["text"] == "/start K7M2QX9P"
    assert shape(body["message"]["from"]) == shape(
        fixture("telegram", "start_with_code")["message"]["from"]
    )
    assert [d["status"] for d in await control.webhook_deliveries("telegram")] == [500, 200]
    assert (await tg_bot.get_webhook_info()).url == url


async def test_zalo_webhook_push(
    running: RunningSimulator, control: SimulatorClient, zalo_http: httpx.AsyncClient
) -> None:
    """Zalo POSTs the ok/result envelope with its secret header; the photo URL serves bytes."""
    lan = await control.new_user("zalo", "Nguyễn Thị Lan")
    async with webhook_receiver() as (receiver, url):
        answer = await zalo_http.post(
            "/setWebhook", json={"url": url, "secret_token": "zalo-secret-1"}
        )
        assert answer.json()["result"]["url"] == url
        conflict = await zalo_http.post("/getUpdates", json={"timeout": 1})
        assert conflict.status_code == 400

        await lan.send_photo(caption="Rác đổ trộm đầu ngõ 5")
        await asyncio.wait_for(receiver.arrived.wait(), 5)

    headers, body = receiver.calls[-1]
    assert headers["x-bot-api-secret-token"] == "zalo-secret-1"
    assert shape(body) == shape(fixture("zalo", "webhook_image"))
    assert body["result"]["event_name"] == "message.image.received"
    photo_url = body["result"]["message"]["photo_url"]
    assert photo_url.startswith(f"{running.base_url}/zalo/media/")
    async with httpx.AsyncClient() as http:
        image = await http.get(photo_url)
    assert image.content[:3] == JPEG_MAGIC
    assert [d["status"] for d in await control.webhook_deliveries("zalo")] == [200]


# ----- SimUser.choose -------------------------------------------------------------


async def test_choose_presses_a_telegram_button(tg_bot: Bot, control: SimulatorClient) -> None:
    """choose() presses the button with that label on the newest message carrying it."""
    lan = await control.new_user("telegram", "Nguyễn Thị Lan")
    await lan.say("/start")
    [start] = await tg_bot.get_updates()
    buttons = [InlineKeyboardButton(label, callback_data=f"v:{n}") for n, label in VOTE]
    keyboard = InlineKeyboardMarkup([buttons])
    await tg_bot.send_message(lan.chat_id, "Biểu quyết", reply_markup=keyboard)

    await lan.choose("Không đồng ý")

    [update] = await tg_bot.get_updates(offset=start.update_id + 1)
    assert update.callback_query.data == "v:2"
    with pytest.raises(AssertionError, match="Đồng ý"):
        await lan.choose("Bỏ phiếu trắng")


async def test_choose_types_a_zalo_option_number(
    control: SimulatorClient, zalo_http: httpx.AsyncClient
) -> None:
    """choose() finds the numbered line with that label and types its number."""
    lan = await control.new_user("zalo", "Nguyễn Thị Lan")
    await lan.say("Xin chào")
    await zalo_http.post("/getUpdates", json={"timeout": 1})
    question = "Bạn có đồng ý không?\n1. Đồng ý\n2. Không đồng ý"
    await zalo_http.post("/sendMessage", json={"chat_id": lan.chat_id, "text": question})

    await lan.choose("Đồng ý")
    await lan.choose("không đồng")

    typed = [(await zalo_http.post("/getUpdates", json={"timeout": 1})).json() for _ in range(2)]
    assert [update["result"]["message"]["text"] for update in typed] == ["1", "2"]
    with pytest.raises(AssertionError, match="Không đồng ý"):
        await lan.choose("Phản đối")
    assert (await lan.expect_text("đồng ý"))["text"] == question
    assert lan.last_text == question
