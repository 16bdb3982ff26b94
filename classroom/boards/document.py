"""The whiteboard document: pages of items, drawing rights and per-person undo.

Pure Python. An operation is checked against the state and resolved into an ``Effect``
(which items to add, hide or show); committing effects in order rebuilds the same state,
whether from the start or from a snapshot, so effects are what is stored and broadcast.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Annotated, Literal

import msgspec

from classroom.errors import Forbidden, InvalidInput

BOARD_WIDTH = 3200
BOARD_HEIGHT = 1800
MAX_PAGES = 30
MAX_POINTS = 2000
MAX_TEXT = 500
MAX_VISIBLE_ITEMS = 4000
MAX_ITEMS = 12000
PRUNE_AT = 6000
MAX_UNDO = 50
MAX_IDS = 4000

Tool = Literal["pen", "highlighter", "line", "rect", "ellipse", "text"]
ItemId = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.:-]+$")]
Color = Annotated[str, msgspec.Meta(pattern=r"^#[0-9a-fA-F]{6}$")]
Width = Annotated[int, msgspec.Meta(ge=1, le=120)]
Coordinate = Annotated[int, msgspec.Meta(ge=-BOARD_WIDTH, le=2 * BOARD_WIDTH)]
PersonId = Annotated[int, msgspec.Meta(ge=1, le=2**62)]
PageNo = Annotated[int, msgspec.Meta(ge=0, lt=MAX_PAGES)]


class Item(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A stroke, shape or text on a page.

    ``points`` is flat: ``x, y, pressure`` per point for pen and highlighter (pressure
    1–100), ``x1, y1, x2, y2`` for line, rectangle and ellipse, ``x, y`` for text.
    Coordinates are in a 3200 × 1800 board.
    """

    id: ItemId
    tool: Tool
    color: Color
    width: Width
    points: Annotated[list[Coordinate], msgspec.Meta(max_length=3 * MAX_POINTS)]
    text: Annotated[str, msgspec.Meta(max_length=MAX_TEXT)] = ""
    author: int = 0


class AddOp(msgspec.Struct, frozen=True, tag_field="kind", tag="add", forbid_unknown_fields=True):
    item: Item


class EraseOp(
    msgspec.Struct, frozen=True, tag_field="kind", tag="erase", forbid_unknown_fields=True
):
    ids: Annotated[list[ItemId], msgspec.Meta(min_length=1, max_length=200)]


class ClearOp(
    msgspec.Struct, frozen=True, tag_field="kind", tag="clear", forbid_unknown_fields=True
):
    pass


class UndoOp(msgspec.Struct, frozen=True, tag_field="kind", tag="undo", forbid_unknown_fields=True):
    pass


class RedoOp(msgspec.Struct, frozen=True, tag_field="kind", tag="redo", forbid_unknown_fields=True):
    pass


class PageAddOp(
    msgspec.Struct, frozen=True, tag_field="kind", tag="page.add", forbid_unknown_fields=True
):
    pass


class GrantOp(
    msgspec.Struct, frozen=True, tag_field="kind", tag="grant", forbid_unknown_fields=True
):
    person_id: PersonId


class RevokeOp(
    msgspec.Struct, frozen=True, tag_field="kind", tag="revoke", forbid_unknown_fields=True
):
    person_id: PersonId


Op = AddOp | EraseOp | ClearOp | UndoOp | RedoOp | PageAddOp | GrantOp | RevokeOp
"""An operation as a client sends it (``{"kind": …}``)."""


class Effect(msgspec.Struct, frozen=True, omit_defaults=True):
    """An accepted operation, resolved: what every copy of the board applies in order."""

    seq: int
    page: int
    actor: int
    kind: str
    item: Item | None = None
    hide: list[str] = []
    show: list[str] = []
    person: int | None = None
    client_id: str | None = None


class Standing(enum.StrEnum):
    """What a person is to the board."""

    TEACHER = "teacher"  # the lesson's teacher or the admin: draws, grants, clears
    PANEL = "panel"  # the classroom panel bound to the lesson: draws and clears
    STUDENT = "student"  # draws on pages where the teacher gave them the pen
    VIEWER = "viewer"


@dataclass(frozen=True, slots=True)
class Actor:
    person_id: int
    standing: Standing

    @property
    def staff(self) -> bool:
        return self.standing in (Standing.TEACHER, Standing.PANEL)


@dataclass(slots=True)
class Action:
    """One undoable step of a person: which items it made visible and which it hid."""

    shown: tuple[str, ...]
    hidden: tuple[str, ...]


@dataclass(slots=True)
class Page:
    items: dict[str, Item] = field(default_factory=dict)  # in drawing order
    hidden: set[str] = field(default_factory=set)
    grants: set[int] = field(default_factory=set)
    undo: dict[int, list[Action]] = field(default_factory=dict)
    redo: dict[int, list[Action]] = field(default_factory=dict)

    def visible(self) -> list[Item]:
        return [item for key, item in self.items.items() if key not in self.hidden]

    def visible_count(self) -> int:
        return len(self.items) - len(self.hidden)


class PageView(msgspec.Struct, frozen=True):
    """A page as a client draws it."""

    page: int
    items: list[Item]
    grants: list[int]


@dataclass(slots=True)
class Board:
    """The whole document at ``version`` (the ``seq`` of the last committed effect)."""

    pages: list[Page] = field(default_factory=lambda: [Page()])
    version: int = 0

    # -- checking and resolving operations -----------------------------------------------

    def may_draw(self, actor: Actor, page: int) -> bool:
        if actor.staff:
            return True
        return (
            actor.standing is Standing.STUDENT
            and 0 <= page < len(self.pages)
            and actor.person_id in self.pages[page].grants
        )

    def resolve(self, op: Op, actor: Actor, page_no: int, client_id: str | None) -> Effect:
        """Check ``op`` and say what it does; the board is not changed."""

        def made(
            kind: str,
            *,
            page: int = page_no,
            item: Item | None = None,
            hide: list[str] | None = None,
            show: list[str] | None = None,
            person: int | None = None,
        ) -> Effect:
            return Effect(
                seq=self.version + 1,
                page=page,
                actor=actor.person_id,
                kind=kind,
                item=item,
                hide=hide or [],
                show=show or [],
                person=person,
                client_id=client_id,
            )

        if isinstance(op, PageAddOp):
            if not actor.staff:
                raise Forbidden("only the teacher adds pages", code="not_the_teacher")
            if len(self.pages) >= MAX_PAGES:
                raise InvalidInput(f"a board has at most {MAX_PAGES} pages", code="too_many_pages")
            return made("page.add", page=len(self.pages))
        if not 0 <= page_no < len(self.pages):
            raise InvalidInput("there is no such page", code="no_such_page")
        page = self.pages[page_no]
        if isinstance(op, GrantOp | RevokeOp):
            if actor.standing is not Standing.TEACHER:
                raise Forbidden("only the teacher gives the pen", code="not_the_teacher")
            kind = "grant" if isinstance(op, GrantOp) else "revoke"
            return made(kind, person=op.person_id)
        if not self.may_draw(actor, page_no):
            raise Forbidden("the teacher has not given you the pen on this page", code="no_pen")
        if isinstance(op, AddOp):
            return made("add", item=self._checked(op.item, actor, page))
        if isinstance(op, EraseOp):
            ids = [
                key
                for key in dict.fromkeys(op.ids)
                if key in page.items
                and key not in page.hidden
                and (actor.staff or page.items[key].author == actor.person_id)
            ]
            if not ids:
                raise InvalidInput("nothing of yours to erase there", code="nothing_to_erase")
            return made("erase", hide=ids)
        if isinstance(op, ClearOp):
            if not actor.staff:
                raise Forbidden("only the teacher clears a page", code="not_the_teacher")
            return made("clear", hide=[i.id for i in page.visible()])
        if isinstance(op, UndoOp):
            stack = page.undo.get(actor.person_id)
            if not stack:
                raise InvalidInput("nothing to undo", code="nothing_to_undo")
            step = stack[-1]
            return made("undo", hide=[*step.shown], show=[*step.hidden])
        stack = page.redo.get(actor.person_id)
        if not stack:
            raise InvalidInput("nothing to redo", code="nothing_to_redo")
        step = stack[-1]
        return made("redo", hide=[*step.hidden], show=[*step.shown])

    def _checked(self, item: Item, actor: Actor, page: Page) -> Item:
        if item.id in page.items:
            raise InvalidInput("an item with this id is already on the page", code="duplicate_id")
        if page.visible_count() >= MAX_VISIBLE_ITEMS or len(page.items) >= MAX_ITEMS:
            raise InvalidInput("this page is full: clear it or add a page", code="page_full")
        count = len(item.points)
        if item.tool in ("pen", "highlighter"):
            if count < 3 or count % 3:
                raise InvalidInput("a stroke needs x, y, pressure per point", code="bad_points")
            if any(not 0 <= p <= 100 for p in item.points[2::3]):
                raise InvalidInput("pressure goes from 0 to 100", code="bad_points")
        elif item.tool == "text":
            if count != 2 or not item.text.strip():
                raise InvalidInput("a text needs a place and some words", code="bad_points")
        elif count != 4:
            raise InvalidInput("a shape needs two corners", code="bad_points")
        return msgspec.structs.replace(item, author=actor.person_id)

    # -- committing effects ----------------------------------------------------------------

    def commit(self, effect: Effect) -> None:
        """Apply an effect resolved against this state (or read back from storage)."""
        if effect.seq != self.version + 1:
            raise ValueError(f"effect {effect.seq} does not follow version {self.version}")
        self.version = effect.seq
        if effect.kind == "page.add":
            self.pages.append(Page())
            return
        page = self.pages[effect.page]
        actor = effect.actor
        if effect.kind == "grant":
            assert effect.person is not None
            page.grants.add(effect.person)
            return
        if effect.kind == "revoke":
            page.grants.discard(effect.person or 0)
            return
        if effect.kind == "add" and effect.item is not None:
            page.items[effect.item.id] = effect.item
            self._record(page, actor, Action(shown=(effect.item.id,), hidden=()))
        elif effect.kind in ("erase", "clear"):
            self._record(page, actor, Action(shown=(), hidden=tuple(effect.hide)))
        elif effect.kind == "undo":
            step = page.undo[actor].pop()
            page.redo.setdefault(actor, []).append(step)
        elif effect.kind == "redo":
            step = page.redo[actor].pop()
            page.undo.setdefault(actor, []).append(step)
        page.hidden.difference_update(effect.show)
        page.hidden.update(key for key in effect.hide if key in page.items)
        if len(page.items) > PRUNE_AT:
            _prune(page)

    @staticmethod
    def _record(page: Page, actor: int, action: Action) -> None:
        stack = page.undo.setdefault(actor, [])
        stack.append(action)
        if len(stack) > MAX_UNDO:
            del stack[0]
        page.redo.pop(actor, None)

    def forget_unreachable(self) -> None:
        """Drop hidden items that no undo or redo can bring back (nothing visible changes);
        done before a snapshot, so that its size follows what can still be seen."""
        for page in self.pages:
            if page.hidden:
                _prune(page)

    # -- reading -----------------------------------------------------------------------------

    def views(self) -> list[PageView]:
        return [
            PageView(page=n, items=page.visible(), grants=sorted(page.grants))
            for n, page in enumerate(self.pages)
        ]


def _prune(page: Page) -> None:
    """Forget hidden items no undo or redo can bring back."""
    wanted: set[str] = set()
    for stacks in (page.undo, page.redo):
        for steps in stacks.values():
            for step in steps:
                wanted.update(step.shown)
                wanted.update(step.hidden)
    gone = [key for key in page.hidden if key not in wanted]
    for key in gone:
        del page.items[key]
        page.hidden.discard(key)


# -- snapshots ---------------------------------------------------------------------------


class _ActionRow(msgspec.Struct, array_like=True):
    shown: list[str]
    hidden: list[str]


class _PageRow(msgspec.Struct):
    items: list[Item]
    hidden: list[str]
    grants: list[int]
    undo: dict[int, list[_ActionRow]]
    redo: dict[int, list[_ActionRow]]


class _BoardRow(msgspec.Struct):
    version: int
    pages: list[_PageRow]


def _stacks(stacks: dict[int, list[Action]]) -> dict[int, list[_ActionRow]]:
    return {
        person: [_ActionRow(list(s.shown), list(s.hidden)) for s in steps]
        for person, steps in sorted(stacks.items())
        if steps
    }


def _unstack(rows: dict[int, list[_ActionRow]]) -> dict[int, list[Action]]:
    return {
        person: [Action(tuple(r.shown), tuple(r.hidden)) for r in steps]
        for person, steps in rows.items()
    }


def snapshot(board: Board) -> bytes:
    """The whole state, undo stacks included, as bytes."""
    return msgspec.msgpack.encode(
        _BoardRow(
            version=board.version,
            pages=[
                _PageRow(
                    items=list(page.items.values()),
                    hidden=sorted(page.hidden),
                    grants=sorted(page.grants),
                    undo=_stacks(page.undo),
                    redo=_stacks(page.redo),
                )
                for page in board.pages
            ],
        )
    )


def from_snapshot(data: bytes) -> Board:
    row = msgspec.msgpack.decode(data, type=_BoardRow)
    return Board(
        pages=[
            Page(
                items={item.id: item for item in page.items},
                hidden=set(page.hidden),
                grants=set(page.grants),
                undo=_unstack(page.undo),
                redo=_unstack(page.redo),
            )
            for page in row.pages
        ],
        version=row.version,
    )


def carried_over(board: Board) -> Board:
    """What the next lesson starts from: the visible items of each page, nothing else."""
    return Board(pages=[Page(items={i.id: i for i in page.visible()}) for page in board.pages])


def encode_effect(effect: Effect) -> bytes:
    return msgspec.msgpack.encode(effect)


def decode_effect(data: bytes) -> Effect:
    return msgspec.msgpack.decode(data, type=Effect)
