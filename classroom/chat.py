"""Chat of a lesson room: messages published in order and kept in the database.

A message goes to the whole room, or privately between the teacher and one student. A
resend with the same client id is recognised and not posted twice: the bus publishes once
per client id (``publish_once``), and the message's id follows from its client id, so that
its row is written once however often it is sent.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, cast

import msgspec
from sqlalchemy import Table, bindparam, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Executable

from classroom.errors import Forbidden, InvalidInput, NotFound
from classroom.roles import Principal
from classroom.rooms import MAX_CHAT_LENGTH, Author, Room, RoomState, is_enrolled, is_teacher
from classroom.storage.database import Database, Reader
from classroom.storage.direct import AnySelect, DirectInsert, DirectRead, Row
from classroom.storage.models import ChatMessage, Person

HISTORY_LIMIT = 200

MESSAGE_EVENT = "chat.message"
"""The event a message is delivered with, on the room's channel or the two people's."""
DELETED_EVENT = "chat.deleted"
"""The event that takes a deleted message out of the room (``{"lesson_id", "id"}``)."""

# Aliases are made once: making one copies every column of the table.
_AUTHOR = aliased(Person, name="author")
_RECIPIENT = aliased(Person, name="recipient")

# Every message runs this. A row that is already there (a resend's) is left as it is.
_STORE = DirectInsert(
    cast(Table, ChatMessage.__table__),
    (
        "id",
        "lesson_id",
        "author_id",
        "recipient_id",
        "text",
        "client_id",
        "sent_at",
        "offset",
    ),
    skip_conflicts=True,
)

_MESSAGE_IDS = uuid.UUID("5d0f3c52-8a57-4f0e-9a3b-6f1c2e7d4b10")
"""The namespace of ids made from client ids."""


class MessageView(msgspec.Struct, frozen=True):
    """A chat message as members see it; ``to`` is set on private messages."""

    id: str
    lesson_id: int
    author: Author
    text: str
    sent_at: dt.datetime
    to: Author | None = None
    client_id: str | None = None


Publish = Callable[[MessageView], Awaitable[tuple[int, bool]]]
"""Delivers a message live, once per client id: its offset on the channel and whether this
call delivered it (``False``: a post with the same client id already had)."""

Posted = tuple[MessageView, int | None]
"""A stored message and its offset (``None`` for a resend that was already posted)."""

Delivered = tuple[MessageView, int]
"""A message delivered live and its offset, to be stored."""

Store = Callable[[Delivered], Awaitable[None]]
"""Stores a delivered message (alone, or with others: see ``store_many``)."""


def clean_text(text: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise InvalidInput("an empty message is not sent", code="empty_message")
    if len(cleaned) > MAX_CHAT_LENGTH:
        raise InvalidInput(
            f"a message has at most {MAX_CHAT_LENGTH} characters", code="message_too_long"
        )
    return cleaned


async def _recipient(db: Database, room: Room, sender: Principal, to_id: int) -> Author:
    """Private messages go between the teacher and one student of the class."""
    if to_id == sender.person_id:
        raise InvalidInput("a message to oneself is not sent", code="bad_recipient")
    if is_teacher(room, sender):
        if not await is_enrolled(db, to_id, room.lesson.class_id):
            raise NotFound("there is no such student in this class", code="student_not_found")
    elif to_id != room.lesson.teacher_id:
        raise Forbidden(
            "students write privately to the teacher only", code="private_to_teacher_only"
        )
    async with db.session() as session:
        person = await session.get(Person, to_id)
    if person is None:
        raise NotFound("there is no such person", code="person_not_found")
    return Author(id=person.id, display_name=person.display_name, role=person.role)


async def post(
    db: Database,
    room: Room,
    sender: Author,
    sender_principal: Principal,
    text: str,
    *,
    state: RoomState,
    to_id: int | None,
    client_id: str | None,
    now: dt.datetime,
    publish: Publish,
    store: Store | None = None,
) -> Posted:
    """Check, publish and store a message; return it with its offset (``None`` for a
    resend that was already posted, which is returned as it was). A message that could not
    be delivered is not kept, and the sender may resend it. ``store`` may batch it with
    others (``store_many``); by default it is stored alone."""
    if state is not RoomState.LIVE:
        raise Forbidden(
            "the chat opens when the teacher starts the lesson"
            if state is not RoomState.ENDED
            else "this lesson has ended",
            code="room_not_live" if state is not RoomState.ENDED else "room_ended",
        )
    teacher = is_teacher(room, sender_principal)
    if room.switches.chat_locked and not teacher and to_id is None:
        raise Forbidden("the teacher has locked the chat", code="chat_locked")
    cleaned = clean_text(text)
    recipient = None if to_id is None else await _recipient(db, room, sender_principal, to_id)
    view = MessageView(
        id=message_id(room.lesson.id, sender.id, client_id),
        lesson_id=room.lesson.id,
        author=sender,
        text=cleaned,
        sent_at=now,
        to=recipient,
        client_id=client_id,
    )
    offset, delivered_now = await publish(view)
    # No wait between the publication and the store's call: a room entry that waited for
    # the publication then finds the message stored or queued (``GroupWriter.settled``).
    await (store((view, offset)) if store is not None else store_many(db, [(view, offset)]))
    return view, offset if delivered_now else None


def message_id(lesson_id: int, author_id: int, client_id: str | None) -> str:
    """A new message's id: random, or made from its client id, so that each resend of a
    message has the id it was first sent with."""
    if client_id is None:
        return uuid.uuid4().hex
    return uuid.uuid5(_MESSAGE_IDS, f"{lesson_id}:{author_id}:{client_id}").hex


async def store_many(db: Database, delivered: Sequence[Delivered]) -> list[None]:
    """Store delivered messages in one statement, with their offsets; a message stored
    already (a resend's) is left as it is.

    A message is delivered before it is stored, so that members see it as soon as it is
    sent. One delivered but not stored (the database failed) fails its post with the
    database's error; its resend (same client id) is not delivered again and is stored then."""
    rows = [_row_of(view, offset) for view, offset in delivered]
    async with db.direct() as connection:  # one statement: it commits on its own
        await _STORE.run(connection, rows)
    return [None] * len(rows)


def _row_of(view: MessageView, offset: int) -> dict[str, object]:
    return {
        "id": view.id,
        "lesson_id": view.lesson_id,
        "author_id": view.author.id,
        "recipient_id": None if view.to is None else view.to.id,
        "text": view.text,
        "client_id": view.client_id,
        "sent_at": view.sent_at,
        "offset": offset,
    }


async def history(db: Database, room: Room, viewer: Principal) -> list[MessageView]:
    """The latest messages the viewer may read, oldest first (see ``history_in``)."""
    async with db.session() as session:
        return await history_in(session, room, viewer)


async def history_in(session: Reader, room: Room, viewer: Principal) -> list[MessageView]:
    """The latest messages the viewer may read, oldest first: the room's, and the private
    ones they wrote or received (the teacher reads every private message of the lesson)."""
    teacher, params = history_params(room, viewer)
    read = _HISTORY_OF_TEACHER if teacher else _HISTORY_OF_MEMBER
    return await _run_views(session, read, params)


def _view_query(*conditions: object, limit: int) -> AnySelect:
    author, recipient = _AUTHOR, _RECIPIENT
    return (
        select(
            ChatMessage.id,
            ChatMessage.lesson_id,
            ChatMessage.author_id,
            ChatMessage.recipient_id,
            ChatMessage.text,
            ChatMessage.sent_at,
            ChatMessage.client_id,
            ChatMessage.offset,
            ChatMessage.seq,
            author.display_name,
            author.role,
            recipient.display_name,
            recipient.role,
        )
        .join(author, author.id == ChatMessage.author_id)
        .outerjoin(recipient, recipient.id == ChatMessage.recipient_id)
        .where(*conditions)  # type: ignore[arg-type]
        .order_by(ChatMessage.sent_at.desc(), ChatMessage.seq.desc())
        .limit(limit)
    )


# The histories read at every room entry (built once: building a statement costs more than
# running it): the teacher's, and a member's (room messages and their own private ones).
HISTORY_OF_TEACHER = _view_query(
    ChatMessage.lesson_id == bindparam("lesson_id"),
    ChatMessage.deleted_at.is_(None),
    limit=HISTORY_LIMIT,
)
"""Every message of a lesson; parameter ``lesson_id``. Rows for ``views_of``."""
HISTORY_OF_MEMBER = _view_query(
    ChatMessage.lesson_id == bindparam("lesson_id"),
    ChatMessage.deleted_at.is_(None),
    or_(
        ChatMessage.recipient_id.is_(None),
        ChatMessage.recipient_id == bindparam("viewer_id"),
        ChatMessage.author_id == bindparam("viewer_id"),
    ),
    limit=HISTORY_LIMIT,
)
"""A member's messages of a lesson; parameters ``lesson_id`` and ``viewer_id``."""
_HISTORY_OF_TEACHER = DirectRead(HISTORY_OF_TEACHER)
_HISTORY_OF_MEMBER = DirectRead(HISTORY_OF_MEMBER)


def history_params(room: Room, viewer: Principal) -> tuple[bool, dict[str, object]]:
    """Whether the viewer reads the teacher's history, and the parameters of theirs."""
    if is_teacher(room, viewer):
        return True, {"lesson_id": room.lesson.id}
    return False, {"lesson_id": room.lesson.id, "viewer_id": viewer.person_id}


async def _run_views(
    session: Reader, query: Executable | DirectRead, params: dict[str, object]
) -> list[MessageView]:
    if isinstance(query, DirectRead):
        rows = await query.rows(session, params)
    else:
        rows = list((await session.execute(query, params)).all())
    return views_of(rows)


def views_of(rows: Sequence[Row]) -> list[MessageView]:
    """The messages of rows of a history query (in any order), in the order members saw
    them."""
    room_messages: list[tuple[int, int, MessageView]] = []
    private_messages: list[tuple[int, MessageView]] = []
    for row in rows:
        (message_id, lesson_id, author_id, recipient_id, text, sent_at, client_id, offset, seq) = (
            row[:9]
        )
        author_name, author_role, to_name, to_role = row[9:]
        view = MessageView(
            id=message_id,
            lesson_id=lesson_id,
            author=Author(author_id, author_name, author_role),
            text=text,
            sent_at=sent_at,
            to=None if recipient_id is None else Author(recipient_id, to_name, to_role),
            client_id=client_id,
        )
        if recipient_id is None:
            room_messages.append((offset or 0, seq, view))
        else:
            private_messages.append((seq, view))
    private_messages.sort(key=lambda item: (item[1].sent_at, item[0]))
    return _in_delivery_order(room_messages, private_messages)


def _in_delivery_order(
    room_messages: list[tuple[int, int, MessageView]],
    private_messages: list[tuple[int, MessageView]],
) -> list[MessageView]:
    """Room messages in the order of their offsets, which is the order every member saw
    them live (clocks of two nodes may disagree); private ones slotted in by time."""
    merged: list[MessageView] = []
    pending = list(private_messages)
    by_offset = sorted(room_messages, key=lambda item: (item[0], item[2].sent_at, item[1]))
    for _offset, seq, view in by_offset:
        while pending and (pending[0][1].sent_at, pending[0][0]) < (view.sent_at, seq):
            merged.append(pending.pop(0)[1])
        merged.append(view)
    merged.extend(view for _seq, view in pending)
    return merged


def with_heard(
    history: list[MessageView], heard: Iterable[tuple[int, str, Any]]
) -> list[MessageView]:
    """The history with the room messages members were sent but that are not stored yet.

    A message is delivered before it is stored, and another node may still hold it back to
    store it with the ones that follow (``GroupWriter``'s linger), so a history read in
    that time lacks it. ``heard`` are the room channel's latest events as this node saw
    them, ``(offset, event, data)``, oldest first. Each missing message goes before the
    first message of the history with a larger offset (room messages are in the order of
    their offsets), else at the end; one deleted meanwhile stays out."""
    offsets: dict[str, int] = {}
    deleted: set[str] = set()
    candidates: list[tuple[int, dict[str, Any]]] = []
    for offset, event, data in heard:
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            continue
        if event == MESSAGE_EVENT and data.get("to") is None:
            offsets[data["id"]] = offset
            candidates.append((offset, data))
        elif event == DELETED_EVENT:
            deleted.add(data["id"])
    stored = {view.id for view in history}
    # A full history leaves out older messages, stored or not: only those after the oldest
    # of it that this node heard can be missing (heard events follow on from each other).
    floor = -1
    if len(history) >= HISTORY_LIMIT:
        floor = min((offsets[view.id] for view in history if view.id in offsets), default=-1)
    missing = [
        (offset, data)
        for offset, data in candidates
        if offset > floor and data["id"] not in stored and data["id"] not in deleted
    ]
    if not missing:
        return history
    merged = list(history)
    for offset, data in missing:
        try:
            view = msgspec.convert(data, MessageView)
        except msgspec.ValidationError:
            continue
        later = next(
            (at for at, held in enumerate(merged) if offsets.get(held.id, -1) > offset),
            len(merged),
        )
        merged.insert(later, view)
        offsets[view.id] = offset
    return merged[-HISTORY_LIMIT:]


async def delete(
    db: Database, room: Room, principal: Principal, message_id: str, now: dt.datetime
) -> None:
    """The teacher deletes a message; it disappears from the room and from its history."""
    if not is_teacher(room, principal):
        raise Forbidden("only the teacher deletes messages", code="not_the_teacher")
    async with db.session() as session:
        message = await session.scalar(select(ChatMessage).where(ChatMessage.id == message_id))
        if message is None or message.lesson_id != room.lesson.id:
            raise NotFound("there is no such message", code="message_not_found")
        message.deleted_at = message.deleted_at or now
        await session.commit()
