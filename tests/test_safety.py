"""Safety nets: complete translations, a platform-free core, clean logs, hiccups, pacing."""

from __future__ import annotations

import ast
import asyncio
import itertools
import logging
import re
import string
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from bot import logs
from bot.core import ratelimit, state
from bot.core.clock import FakeClock
from bot.core.i18n import LANGUAGES, catalog
from bot.handlers.admin import INVITE_KINDS
from bot.simulator.stack import TELEGRAM_TOKEN, WEBHOOK_SECRET, ZALO_TOKEN, Stack, running_stack
from storage.models import BroadcastStatus, MemberStatus, Role
from tests import people as script

ROOT = Path(__file__).resolve().parents[1]
KEY_SHAPE = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")
BOT = ROOT / "bot"


# ----- translations ------------------------------------------------------------------


def _python_files(*folders: Path) -> Iterator[Path]:
    for folder in folders:
        yield from sorted(folder.rglob("*.py"))


def _call_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _literal(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _keys_in_code() -> tuple[dict[str, str], dict[str, str]]:
    """Message keys used in bot/ (key → where), and f-string key prefixes (prefix → where)."""
    keys: dict[str, str] = {}
    prefixes: dict[str, str] = {}
    for path in _python_files(BOT):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            name = _call_name(node)
            # t(lang, key) and the CLI's _say(settings, key) take the key second.
            position = {"msg": 0, "Msg": 0, "UserError": 0, "t": 1, "_say": 1}.get(name or "")
            candidates: list[ast.expr] = []
            if position is not None and len(node.args) > position:
                candidates.append(node.args[position])
            candidates += [kw.value for kw in node.keywords if kw.arg == "help_key"]
            for arg in candidates:
                if (key := _literal(arg)) is not None:
                    keys[key] = where
                elif isinstance(arg, ast.JoinedStr) and (head := _literal(arg.values[0])):
                    prefixes[head] = where
        # A key chosen by a condition: msg("cancel.done" if had_flow else "cancel.nothing").
        for node in ast.walk(tree):
            if isinstance(node, ast.IfExp):
                branches = [_literal(node.body), _literal(node.orelse)]
                if all(b is not None and KEY_SHAPE.match(b) for b in branches):
                    for key in branches:
                        keys[str(key)] = f"{path.relative_to(ROOT)}:{node.lineno}"
    # The member list reader reports problems as (line, key, value) tuples.
    for node in ast.walk(ast.parse((BOT / "member_import.py").read_text(encoding="utf-8"))):
        if (value := _literal(node)) is not None and value.startswith("import."):
            keys[value] = "bot/member_import.py"
    return keys, prefixes


def _dynamic_keys() -> dict[str, list[str]]:
    """Keys built at run time, by the prefix the code builds them from."""
    return {
        "role.": [f"role.{r}" for r in Role],
        "status.": [f"status.{s}" for s in MemberStatus],
        "platform.": ["platform.telegram", "platform.zalo"],
        "language.": [f"language.{lang}" for lang in LANGUAGES],
        "invite.kind.": [f"invite.kind.{k}" for k in INVITE_KINDS],
        "broadcast.status.": [f"broadcast.status.{s}" for s in BroadcastStatus],
    }


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_language_has_the_same_keys_and_no_empty_text() -> None:
    """vi and en catalogs hold the same keys, each with a non-blank text."""
    vi, en = catalog("vi"), catalog("en")

    assert sorted(set(vi) ^ set(en)) == []
    assert [k for k, v in {**vi, **en}.items() if not v.strip()] == []
    assert [k for k in vi if not en.get(k, "").strip() or not vi[k].strip()] == []


def test_every_key_used_in_code_is_translated() -> None:
    """Keys passed to msg/Msg/UserError/t/help_key, and the dynamic families, exist in both."""
    keys, prefixes = _keys_in_code()
    dynamic = _dynamic_keys()

    wanted = {**keys, **{k: f"family {p}*" for p, ks in dynamic.items() for k in ks}}
    missing = {
        lang: sorted(f"{k} ({w})" for k, w in wanted.items() if k not in catalog(lang))
        for lang in LANGUAGES
    }
    # A family not listed in _dynamic_keys can only be checked for having any key at all.
    empty_families = {
        prefix: where
        for prefix, where in prefixes.items()
        if prefix not in dynamic
        and not all(any(k.startswith(prefix) for k in catalog(lang)) for lang in LANGUAGES)
    }

    assert len(keys) > 50  # the walk found the handlers' keys
    assert dynamic.keys() <= prefixes.keys()  # the families listed are still built in code
    assert missing == {lang: [] for lang in LANGUAGES}
    assert empty_families == {}


def test_placeholders_match_between_languages() -> None:
    """Every {placeholder} of a Vietnamese text is in the English one, and the other way round."""
    vi, en = catalog("vi"), catalog("en")

    different = {
        key: (sorted(_fields(vi[key])), sorted(_fields(en[key])))
        for key in vi.keys() & en.keys()
        if _fields(vi[key]) != _fields(en[key])
    }

    assert different == {}


def test_the_placeholder_walk_sees_a_difference() -> None:
    """The comparison above is not vacuous: differing fields are told apart."""
    assert _fields("Mời {name} ({kind})") != _fields("Invite {name}")


# ----- architecture -----------------------------------------------------------------


FORBIDDEN = ("telegram", "httpx", "bot.channels")
NEUTRAL = [BOT / "core", BOT / "handlers", BOT / "services", BOT / "jobs", ROOT / "storage"]


def _imports(path: Path) -> Iterator[tuple[str, int]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno
            for alias in node.names:
                yield f"{node.module}.{alias.name}", node.lineno


def _forbidden(module: str) -> bool:
    return any(module == f or module.startswith(f"{f}.") for f in FORBIDDEN)


def test_the_core_never_imports_a_platform() -> None:
    """Core, handlers, services, jobs and storage never import telegram, httpx or channels."""
    files = list(_python_files(*NEUTRAL))

    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in files
        for module, line in _imports(path)
        if _forbidden(module)
    ]

    assert len(files) > 15
    assert found == []


def test_the_import_walk_would_catch_a_platform_import(tmp_path: Path) -> None:
    """The walk above flags plain, dotted and from-imports of a platform."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import httpx\nfrom telegram.ext import Application\nfrom bot import channels\n"
    )

    flagged = [m for m, _ in _imports(sample) if _forbidden(m)]

    assert flagged == ["httpx", "telegram.ext", "telegram.ext.Application", "bot.channels"]


# ----- logging ---------------------------------------------------------------------


@pytest.fixture
def redaction() -> Iterator[None]:
    """Redaction installed as in production; the record factory and logger levels restored after."""
    original = logging.getLogRecordFactory()
    levels = {
        name: logger.level
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    logs.install_redaction([TELEGRAM_TOKEN, ZALO_TOKEN, WEBHOOK_SECRET])
    try:
        yield
    finally:
        logging.setLogRecordFactory(original)
        for name, logger in logging.Logger.manager.loggerDict.items():
            if isinstance(logger, logging.Logger):
                logger.setLevel(levels.get(name, logging.NOTSET))


SECRETS = [
    TELEGRAM_TOKEN,
    TELEGRAM_TOKEN.split(":", 1)[1],
    ZALO_TOKEN,
    ZALO_TOKEN.split(":", 1)[1],
    WEBHOOK_SECRET,
]
NAMES = ["Nguyễn Thị Lan", "Lê Thị Mai", "Phạm Văn"]


async def _logged_scene(stack: Stack, caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    """Secretary joins, invites a member who joins on Zalo, a resident joins on Telegram."""
    caplog.set_level(logging.DEBUG)
    secretary = await script.secretary(stack, "telegram")
    await script.member(stack, secretary, "zalo", "Nguyễn Thị Lan")
    await script.resident(stack, "telegram", "Lê Thị Mai")
    await secretary.say("/thanhvien")
    await secretary.expect_text("Nguyễn Thị Lan")
    # What a careless library would log: a Bot API URL with the token in it.
    logging.getLogger("loaphuong.test").debug(
        "GET https://api.telegram.org/bot%s/getMe secret=%s", TELEGRAM_TOKEN, WEBHOOK_SECRET
    )
    return [(r.name, f"{r.getMessage()}\n{r.exc_text or ''}") for r in caplog.records]


def _leaks(records: list[tuple[str, str]], needles: list[str]) -> list[tuple[str, str]]:
    return sorted({(name, n) for name, text in records for n in needles if n in text})


async def test_logs_hold_no_token_and_no_secret(
    redaction: None, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """A whole scene logged at DEBUG: no token, no token tail, no webhook secret anywhere."""
    records = await _logged_scene(stack, caplog)

    careless = [text for name, text in records if name == "loaphuong.test"]
    assert careless == ["GET https://api.telegram.org/bot***/getMe secret=***\n"]
    assert any(name.startswith("loaphuong.zalo") for name, _ in records)
    assert _leaks(records, SECRETS) == []


async def test_logs_hold_no_names(
    redaction: None, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """The same scene at DEBUG: no member's or resident's name in any log record."""
    records = await _logged_scene(stack, caplog)

    assert _leaks(records, NAMES) == []


# ----- a database hiccup ---------------------------------------------------------------


def _failing_claim(times: int | None) -> Any:
    """state.claim_update that raises OperationalError `times` times (None: always)."""
    real = state.claim_update
    calls = {"n": 0}

    async def claim(*args: Any, **kwargs: Any) -> bool:
        calls["n"] += 1
        if times is None or calls["n"] <= times:
            raise OperationalError("INSERT INTO processed_updates", {}, Exception("locked"))
        return await real(*args, **kwargs)

    claim.calls = calls  # type: ignore[attr-defined]
    return claim


async def test_a_database_hiccup_is_retried(
    stack: Stack, platform: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The first attempt fails with OperationalError; the retry answers normally."""
    user = await stack.sim.new_user(platform, "Trần Văn Minh")
    claim = _failing_claim(1)
    monkeypatch.setattr(state, "claim_update", claim)

    await user.say("/giupdo")
    replies = await user.drain(quiet=1.0)

    assert claim.calls["n"] == 2
    assert len(replies) == 1
    assert "mã mời 8 ký tự" in replies[0]["text"]
    assert "database unavailable (attempt 1/3)" in caplog.text


async def test_a_database_that_stays_down_gets_a_polite_message(
    stack: Stack, platform: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every attempt fails: the person hears of a temporary problem, nothing else."""
    user = await stack.sim.new_user(platform, "Trần Văn Minh")
    claim = _failing_claim(None)
    monkeypatch.setattr(state, "claim_update", claim)

    await user.say("/giupdo")
    replies = await user.drain(quiet=2.5)

    assert claim.calls["n"] == 3
    assert [r["text"] for r in replies] == [
        "Xin lỗi, hệ thống đang trục trặc tạm thời. Xin gửi lại sau ít phút."
    ]


async def _eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    """Wait until `check()` holds, or fail after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if check():
            return
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.05)


# ----- rate limits, against the simulator's real Telegram limits ------------------------


async def test_a_quick_scene_stays_under_telegrams_limits(
    database_url: str, clock: FakeClock
) -> None:
    """Six quick steps of a secretary (several replies each): the bot paces, no 429."""
    async with running_stack(database_url, clock=clock) as stack:
        secretary = await script.secretary(stack, "telegram")
        for step in ("/giupdo", "/toi", "/madan", "/thanhvien", "/abcxyz", "/giupdo"):
            await secretary.say(step)
        replies = await secretary.drain(quiet=1.5)
        stats = await stack.sim.stats("telegram")

    counters = stats["telegram"][TELEGRAM_TOKEN]
    assert len(replies) == 6
    assert counters["rate_limited"] == 0, counters
    assert counters["sent"] >= 9


async def test_a_blocked_person_is_logged_unreachable_and_others_still_answered(
    stack: Stack, platform: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The bot's answer to someone who blocked it fails quietly; the next person is answered."""
    caplog.set_level(logging.INFO, logger="loaphuong.core")
    blocker = await stack.sim.new_user(platform, "Trần Văn Minh")
    other = await stack.sim.new_user(platform, "Lê Thị Mai")
    await blocker.say("/giupdo")
    await blocker.expect(1)
    await stack.sim.block(platform, blocker.user_id)

    await blocker.say("/giupdo")
    await _eventually(lambda: "unreachable" in caplog.text)
    await other.say("/giupdo")
    answered = (await other.expect(1))[0]["text"]

    assert f"recipient unreachable on {platform}" in caplog.text
    assert "mã mời 8 ký tự" in answered
    assert await blocker.drain() == []
    assert "handling an update failed" not in caplog.text


# ----- the rate limiter on its own ------------------------------------------------------


class _FakeTime:
    """A monotonic clock that only moves when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> _FakeTime:
    """The limiter's asyncio.sleep advances the fake clock instead of waiting."""
    fake = _FakeTime()
    monkeypatch.setattr(ratelimit.asyncio, "sleep", fake.sleep)
    return fake


async def test_overall_rate_is_never_exceeded_in_any_second(fake_time: _FakeTime) -> None:
    """30/s overall: 100 sends to different chats, never more than 30 in any one-second window."""
    limiter = ratelimit.RateLimiter(30, 1, 3, monotonic=fake_time.monotonic)
    times: list[float] = []

    for n in range(100):
        await limiter.wait(f"chat-{n}")
        times.append(fake_time.now)

    busiest = max(sum(1 for t in times if start <= t < start + 1) for start in times)
    assert 25 <= busiest <= 30
    assert times[-1] - times[0] <= 100 / 30 * 1.1  # paced, not needlessly slow
    assert fake_time.sleeps


async def test_one_chat_gets_a_burst_of_three_then_one_a_second(fake_time: _FakeTime) -> None:
    """Per chat: three at once, then about one per second; another chat is not held up."""
    limiter = ratelimit.RateLimiter(30, 1, 3, monotonic=fake_time.monotonic)
    start = fake_time.now
    times: list[float] = []

    for _ in range(6):
        await limiter.wait("chat-1")
        times.append(fake_time.now - start)
    before_other = fake_time.now
    await limiter.wait("chat-2")

    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    over_bucket = [
        (i, j)
        for i in range(len(times))
        for j in range(i + 1, len(times))
        if j - i + 1 > 3 + (times[j] - times[i]) * 1.0 + 1e-9
    ]
    assert times[2] < 0.2
    assert over_bucket == []
    assert all(1.0 <= gap <= 1.2 for gap in gaps[3:]), gaps
    assert times[5] <= 3.6
    assert fake_time.now - before_other < 0.1
