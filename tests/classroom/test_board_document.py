"""The whiteboard document: operations, undo and redo per person, rights, snapshots."""

from __future__ import annotations

import random

import pytest

from classroom.boards.document import (
    MAX_PAGES,
    Actor,
    AddOp,
    Board,
    ClearOp,
    Effect,
    EraseOp,
    GrantOp,
    Item,
    Op,
    PageAddOp,
    RedoOp,
    RevokeOp,
    Standing,
    UndoOp,
    from_snapshot,
    snapshot,
)
from classroom.errors import Forbidden, InvalidInput

TEACHER = Actor(1, Standing.TEACHER)
PANEL = Actor(2, Standing.PANEL)
ANNA = Actor(10, Standing.STUDENT)
BORIS = Actor(11, Standing.STUDENT)


def stroke(item_id: str, *points: int) -> Item:
    return Item(id=item_id, tool="pen", color="#112233", width=4, points=list(points or (1, 2, 50)))


def run(board: Board, actor: Actor, op: Op, page: int = 0) -> None:
    board.commit(board.resolve(op, actor, page, None))


def visible(board: Board, page: int = 0) -> list[str]:
    return [item.id for item in board.pages[page].visible()]


def test_strokes_are_added_in_order_and_belong_to_their_author() -> None:
    board = Board()
    run(board, TEACHER, AddOp(stroke("a")))
    run(board, PANEL, AddOp(stroke("b", 1, 1, 10, 5, 5, 90)))
    assert visible(board) == ["a", "b"]
    assert board.pages[0].items["b"].author == PANEL.person_id
    assert board.version == 2


def test_a_student_draws_only_with_the_pen_and_loses_it_again() -> None:
    board = Board()
    with pytest.raises(Forbidden) as refused:
        board.resolve(AddOp(stroke("x")), ANNA, 0, None)
    assert refused.value.code == "no_pen"
    with pytest.raises(Forbidden):
        board.resolve(GrantOp(ANNA.person_id), PANEL, 0, None)  # the teacher gives the pen
    run(board, TEACHER, GrantOp(ANNA.person_id))
    run(board, ANNA, AddOp(stroke("x")))
    run(board, TEACHER, PageAddOp())
    with pytest.raises(Forbidden):  # rights are per page
        board.resolve(AddOp(stroke("y")), ANNA, 1, None)
    run(board, TEACHER, RevokeOp(ANNA.person_id))
    with pytest.raises(Forbidden):
        board.resolve(AddOp(stroke("z")), ANNA, 0, None)
    assert visible(board) == ["x"]


def test_students_erase_only_their_own_and_only_staff_clear() -> None:
    board = Board()
    run(board, TEACHER, GrantOp(ANNA.person_id))
    run(board, TEACHER, AddOp(stroke("t")))
    run(board, ANNA, AddOp(stroke("a")))
    with pytest.raises(InvalidInput):
        board.resolve(EraseOp(["t"]), ANNA, 0, None)
    run(board, ANNA, EraseOp(["a", "t"]))
    assert visible(board) == ["t"]
    with pytest.raises(Forbidden):
        board.resolve(ClearOp(), ANNA, 0, None)
    run(board, PANEL, ClearOp())
    assert visible(board) == []


def test_undo_and_redo_are_per_person() -> None:
    board = Board()
    run(board, TEACHER, GrantOp(ANNA.person_id))
    run(board, TEACHER, AddOp(stroke("t1")))
    run(board, ANNA, AddOp(stroke("a1")))
    run(board, TEACHER, AddOp(stroke("t2")))
    run(board, ANNA, UndoOp())  # Anna's last, not the teacher's
    assert visible(board) == ["t1", "t2"]
    run(board, TEACHER, UndoOp())
    assert visible(board) == ["t1"]
    run(board, ANNA, RedoOp())
    assert visible(board) == ["t1", "a1"]
    run(board, TEACHER, ClearOp())
    assert visible(board) == []
    run(board, TEACHER, UndoOp())  # the clear comes back undone
    assert visible(board) == ["t1", "a1"]
    run(board, TEACHER, AddOp(stroke("t3")))
    with pytest.raises(InvalidInput) as nothing:  # a new step forgets what could be redone
        board.resolve(RedoOp(), TEACHER, 0, None)
    assert nothing.value.code == "nothing_to_redo"
    with pytest.raises(Forbidden):  # without the pen, nothing to undo either
        board.resolve(UndoOp(), BORIS, 0, None)


def test_limits_are_enforced() -> None:
    board = Board()
    for _ in range(MAX_PAGES - 1):
        run(board, TEACHER, PageAddOp())
    with pytest.raises(InvalidInput) as refused:
        board.resolve(PageAddOp(), TEACHER, 0, None)
    assert refused.value.code == "too_many_pages"
    with pytest.raises(InvalidInput):
        board.resolve(AddOp(stroke("bad", 1, 2)), TEACHER, 0, None)
    with pytest.raises(InvalidInput):
        board.resolve(AddOp(stroke("p", 1, 2, 101)), TEACHER, 0, None)
    run(board, TEACHER, AddOp(stroke("same")))
    with pytest.raises(InvalidInput):
        board.resolve(AddOp(stroke("same")), TEACHER, 0, None)
    with pytest.raises(InvalidInput):
        board.resolve(AddOp(stroke("x")), TEACHER, MAX_PAGES, None)


def random_op(rng: random.Random, n: int, board: Board) -> tuple[Actor, Op, int]:
    actor = rng.choice([TEACHER, PANEL, ANNA, BORIS])
    page = rng.randrange(len(board.pages))
    roll = rng.random()
    op: Op
    if roll < 0.55:
        points = [
            v
            for _ in range(rng.randint(1, 20))
            for v in (rng.randint(0, 3200), rng.randint(0, 1800), rng.randint(1, 100))
        ]
        op = AddOp(Item(id=f"i{n}", tool="pen", color="#000000", width=3, points=points))
    elif roll < 0.65:
        items = list(board.pages[page].items) or ["none"]
        op = EraseOp(rng.sample(items, min(3, len(items))))
    elif roll < 0.75:
        op = UndoOp()
    elif roll < 0.82:
        op = RedoOp()
    elif roll < 0.86:
        op = ClearOp()
    elif roll < 0.88:
        op = PageAddOp()
    else:
        op = (
            GrantOp(rng.choice([ANNA, BORIS]).person_id)
            if roll < 0.95
            else RevokeOp(ANNA.person_id)
        )
    return actor, op, page


def test_a_snapshot_plus_the_effects_after_it_equals_the_whole_history() -> None:
    rng = random.Random(7)
    board = Board()
    effects = []
    snapshots: dict[int, bytes] = {}
    for n in range(3000):
        actor, op, page = random_op(rng, n, board)
        try:
            effect = board.resolve(op, actor, page, f"c{n}")
        except (Forbidden, InvalidInput):
            continue
        board.commit(effect)
        effects.append(effect)
        if len(effects) % 250 == 0:
            snapshots[board.version] = snapshot(board)
    replayed = Board()
    for effect in effects:
        replayed.commit(effect)
    assert snapshot(replayed) == snapshot(board)
    for version, data in snapshots.items():
        folded = from_snapshot(data)
        for effect in effects:
            if effect.seq > version:
                folded.commit(effect)
        assert snapshot(folded) == snapshot(board)
        assert folded.views() == board.views()


def test_effects_must_follow_in_order() -> None:
    board = Board()
    effect = board.resolve(AddOp(stroke("a")), TEACHER, 0, None)
    board.commit(effect)
    with pytest.raises(ValueError):
        board.commit(effect)


def test_forgetting_what_no_undo_reaches_changes_nothing_anyone_can_see_or_do() -> None:
    rng = random.Random(11)
    kept, pruned = Board(), Board()
    for n in range(4000):
        actor, op, page = random_op(rng, n, kept)
        outcomes: list[Effect | type[Exception]] = []
        for board in (kept, pruned):
            try:
                outcomes.append(board.resolve(op, actor, page, f"c{n}"))
            except (Forbidden, InvalidInput) as refusal:
                outcomes.append(type(refusal))
        assert outcomes[0] == outcomes[1], (n, op)
        first, second = outcomes
        if isinstance(first, Effect) and isinstance(second, Effect):
            kept.commit(first)
            pruned.commit(second)
        if n % 100 == 99:
            pruned.forget_unreachable()
            assert pruned.views() == kept.views()
    assert sum(len(p.items) for p in pruned.pages) < sum(len(p.items) for p in kept.pages)
    assert from_snapshot(snapshot(pruned)).views() == kept.views()
