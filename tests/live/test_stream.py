"""The live stream read by real HTTP clients (httpx, streaming) from uvicorn on a free port,
on a committed database, while another client changes the tickets: each reader gets what it may
see, in commit order, and never another requester's events."""

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn

from operational.core.config import get_settings
from operational.core.db import session_scope
from operational.incidents import flows
from operational.incidents.schemas import IncidentCreate
from tests.factories import Factory

# A bound on each reader, so that a broken stream fails the test instead of hanging it.
READ_SECONDS = 60


@pytest.fixture
def live_api(monkeypatch, committed_database: str) -> Iterator[str]:
    from operational.main import create_app

    monkeypatch.setenv("ITSM_STREAM_MAX_SECONDS", str(READ_SECONDS))
    monkeypatch.setenv("ITSM_STREAM_HEARTBEAT_SECONDS", "0.5")
    get_settings.cache_clear()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()
        get_settings.cache_clear()


@dataclass
class People:
    agent: dict[str, str]
    alice: dict[str, str]
    bob: dict[str, str]
    alice_incident: int
    bob_incident: int
    alice_number: str = ""


@pytest.fixture
def people(live_api) -> People:
    with session_scope() as session:
        factory = Factory(session)
        agent = factory.user(roles=("agent",), display_name="Agent")
        alice = factory.user(roles=("requester",), display_name="Alice")
        bob = factory.user(roles=("requester",), display_name="Bob")
        mine = flows.create(
            session=session, data=IncidentCreate(title="Alice's laptop"), actor=alice
        )
        theirs = flows.create(session=session, data=IncidentCreate(title="Bob's phone"), actor=bob)
        return People(
            agent=factory.auth_headers(agent),
            alice=factory.auth_headers(alice),
            bob=factory.auth_headers(bob),
            alice_incident=mine.incident.id,
            bob_incident=theirs.incident.id,
            alice_number=mine.incident.number,
        )


@dataclass
class Reader:
    """Reads one stream in a thread, frame by frame, until ``until`` holds for a frame."""

    url: str
    headers: dict[str, str]
    until: Callable[[dict], bool]
    comments_wanted: int | None = None  # or stop after this many comment lines
    frames: list[dict] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    status: int | None = None
    connected: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)

    def start(self) -> "Reader":
        threading.Thread(target=self._read, daemon=True).start()
        assert self.connected.wait(READ_SECONDS), "the stream did not open"
        return self

    def _read(self) -> None:
        try:
            with httpx.stream("GET", self.url, headers=self.headers, timeout=READ_SECONDS) as reply:
                self.status = reply.status_code
                frame: dict = {}
                for line in reply.iter_lines():
                    if line.startswith(":"):
                        self.comments.append(line[1:].strip())
                        self.connected.set()
                        if self.comments_wanted and len(self.comments) >= self.comments_wanted:
                            return
                    elif line.startswith(("id:", "event:", "data:")):
                        name, _, value = line.partition(":")
                        frame[name] = value.strip()
                    elif not line and frame:
                        if "data" in frame:
                            frame["data"] = json.loads(frame["data"])
                        self.frames.append(frame)
                        finished = self.until(frame)
                        frame = {}
                        if finished:
                            return
        finally:
            self.connected.set()
            self.done.set()

    def wait(self) -> list[dict]:
        assert self.done.wait(READ_SECONDS), "the stream never delivered the awaited event"
        return self.frames


def _comment(base: str, headers: dict[str, str], incident: int, body: str, public: bool = True):
    response = httpx.post(
        f"{base}/api/v1/incidents/{incident}/comments",
        json={"body": body, "is_public": public},
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 201, response.text


def _saying(text: str) -> Callable[[dict], bool]:
    return lambda frame: frame.get("data", {}).get("new_value") == text


def test_each_reader_gets_what_it_may_see_as_another_client_changes_the_tickets(live_api, people):
    stream = f"{live_api}/api/v1/stream"
    alice = Reader(stream, people.alice, _saying("alice: last")).start()
    bob = Reader(stream, people.bob, _saying("bob: last")).start()
    agent = Reader(stream, people.agent, _saying("bob: last")).start()

    _comment(live_api, people.agent, people.bob_incident, "to bob: we ordered a new phone")
    _comment(live_api, people.agent, people.alice_incident, "internal: reimage it", public=False)
    _comment(live_api, people.agent, people.alice_incident, "alice: last")
    _comment(live_api, people.agent, people.bob_incident, "bob: last")

    seen_by_alice = alice.wait()
    seen_by_bob = bob.wait()
    seen_by_agent = agent.wait()

    assert alice.status == bob.status == agent.status == 200
    assert [
        (f["event"], f["data"]["entity_id"], f["data"]["new_value"]) for f in seen_by_alice
    ] == [("incident", people.alice_incident, "alice: last")]
    assert seen_by_alice[0]["data"]["number"] == people.alice_number
    assert seen_by_alice[0]["id"] == str(seen_by_alice[0]["data"]["id"])
    assert [f["data"]["new_value"] for f in seen_by_bob] == [
        "to bob: we ordered a new phone",
        "bob: last",
    ]
    assert {f["data"]["entity_id"] for f in seen_by_bob} == {people.bob_incident}
    kinds = [(f["data"]["kind"], f["data"]["new_value"]) for f in seen_by_agent]
    assert ("work_note_added", "internal: reimage it") in kinds
    assert kinds[-1] == ("comment_added", "bob: last")
    assert "connected" in alice.comments


def test_a_reconnect_with_last_event_id_replays_only_what_the_reader_may_see(live_api, people):
    stream = f"{live_api}/api/v1/stream"
    first = Reader(stream, people.alice, _saying("alice: first")).start()
    _comment(live_api, people.agent, people.bob_incident, "bob: missed by alice")
    _comment(live_api, people.agent, people.alice_incident, "alice: first")
    last_seen = int(first.wait()[-1]["id"])
    _comment(live_api, people.agent, people.bob_incident, "bob: while alice was away")
    _comment(live_api, people.agent, people.alice_incident, "alice: while away")

    resumed = Reader(
        stream, {**people.alice, "Last-Event-ID": str(last_seen)}, _saying("alice: while away")
    ).start()

    assert [f["data"]["new_value"] for f in resumed.wait()] == ["alice: while away"]


def test_a_browser_passes_its_token_in_the_query_and_gets_heartbeats(live_api, people):
    token = people.alice["Authorization"].removeprefix("Bearer ")
    reader = Reader(
        f"{live_api}/api/v1/stream?access_token={token}",
        {},
        lambda frame: False,
        comments_wanted=2,  # "connected", then a heartbeat on the quiet stream
    ).start()

    reader.wait()

    assert reader.comments == ["connected", "heartbeat"]
    assert reader.status == 200


def test_no_token_is_a_401_problem(live_api):
    response = httpx.get(f"{live_api}/api/v1/stream", timeout=30)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
