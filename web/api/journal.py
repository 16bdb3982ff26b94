"""HTTP API of the journal (teachers): journals, the grid, marks, grades, topics, homework
and the history of changes."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from classroom.journal import grades, grid, history, homework, marks, notes
from classroom.journal.access import lesson_to_write
from classroom.journal.grades import GradeCorrection, GradeVersions, GradeView, NewGrade
from classroom.journal.grid import ClassSubjects, HomeworkView, JournalGrid
from classroom.journal.history import ChangePage
from classroom.journal.homework import HomeworkBody
from classroom.journal.marks import MarkBody, MarkView
from classroom.journal.notes import LessonNote, LessonNoteBody
from classroom.library import attachments
from web.api.endpoints import school_today
from web.api.spec import PRINCIPAL_KEY, Endpoint, QueryParam
from web.services import SERVICES_KEY

LESSON_ID = QueryParam("lesson_id", int, "The lesson occurrence.")
STUDENT_ID = QueryParam("student_id", int, "The student.")
GRADE_ID = QueryParam("grade_id", int, "The grade.")
LIMIT = QueryParam("limit", int, "Page size (at most 200; 50 by default).")
OFFSET = QueryParam("offset", int, "How many to skip (the previous page's next_offset).")
REFUSALS = {
    403: "not the lesson's teacher (or not a teacher)",
    404: "no such lesson, student or grade in the caller's school",
}


async def list_journals(request: web.Request) -> ClassSubjects:
    return await grid.journals_of(request.app[SERVICES_KEY].db, request[PRINCIPAL_KEY])


async def get_grid(
    request: web.Request,
    class_id: int,
    subject_id: int,
    **dates: dt.date | None,
) -> JournalGrid:
    date_from, date_to = dates.get("from"), dates.get("to")
    if date_from is None or date_to is None:
        today = await school_today(request)
        date_from = date_from or today - dt.timedelta(days=14)
        date_to = date_to or date_from + dt.timedelta(days=28)
    return await grid.grid(
        request.app[SERVICES_KEY].db,
        request[PRINCIPAL_KEY],
        class_id=class_id,
        subject_id=subject_id,
        date_from=date_from,
        date_to=date_to,
    )


async def put_note(request: web.Request, lesson_id: int, body: LessonNoteBody) -> LessonNote:
    services = request.app[SERVICES_KEY]
    return await notes.set_note(
        services.db, services.events, request[PRINCIPAL_KEY], lesson_id, body, now=services.clock()
    )


async def put_mark(
    request: web.Request, lesson_id: int, student_id: int, body: MarkBody
) -> MarkView:
    services = request.app[SERVICES_KEY]
    return await marks.set_by_teacher(
        services.db,
        services.events,
        request[PRINCIPAL_KEY],
        lesson_id,
        student_id,
        body.mark,
        now=services.clock(),
    )


async def post_grade(request: web.Request, lesson_id: int, body: NewGrade) -> GradeView:
    services = request.app[SERVICES_KEY]
    return await grades.add_grade(
        services.db, services.events, request[PRINCIPAL_KEY], lesson_id, body, now=services.clock()
    )


async def patch_grade(request: web.Request, grade_id: int, body: GradeCorrection) -> GradeView:
    services = request.app[SERVICES_KEY]
    return await grades.correct_grade(
        services.db, services.events, request[PRINCIPAL_KEY], grade_id, body, now=services.clock()
    )


async def grade_versions(request: web.Request, grade_id: int) -> GradeVersions:
    return await grades.versions_of(request.app[SERVICES_KEY].db, request[PRINCIPAL_KEY], grade_id)


async def put_homework(request: web.Request, lesson_id: int, body: HomeworkBody) -> HomeworkView:
    """Homework is the journal's; its materials are the library's, attached in the same call."""
    services = request.app[SERVICES_KEY]
    principal = request[PRINCIPAL_KEY]
    await homework.check_homework(services.db, principal, lesson_id, body)
    ids = list(body.material_ids)
    await attachments.check_attachable(services.db, principal, ids)
    # The materials are attached first: the homework's event commits with the homework, and
    # the diaries it reloads must find the materials already there.
    attached = await attachments.set_attached(
        services.db, principal, lesson_id, "homework", ids, now=services.clock()
    )
    set_work = await homework.set_homework(
        services.db, services.events, principal, lesson_id, body, now=services.clock()
    )
    materials = [m for m in attached.materials if m.purpose == "homework"]
    return HomeworkView(set_work.text, set_work.due_date, materials)


async def lesson_history(
    request: web.Request, lesson_id: int, limit: int | None = None, offset: int | None = None
) -> ChangePage:
    services = request.app[SERVICES_KEY]
    async with services.db.session() as session:
        await lesson_to_write(session, request[PRINCIPAL_KEY], lesson_id)
    return await history.changes_of(services.db, [lesson_id], limit=limit or 50, offset=offset or 0)


JOURNAL_ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "GET",
        "/api/journal/journals",
        "The journals the caller keeps: each (class, subject) they teach.",
        ClassSubjects,
        list_journals,
        tag="journal",
        errors={403: "not a teacher"},
    ),
    Endpoint(
        "GET",
        "/api/journal/grid",
        "A class's lessons of one subject × its students: attendance marks with their "
        "source, grades, topics, tests, homework and the lessons' recordings (the teacher of "
        "that subject there).",
        JournalGrid,
        get_grid,
        tag="journal",
        query=(
            QueryParam("class_id", int, "The class.", required=True),
            QueryParam("subject_id", int, "The subject.", required=True),
            QueryParam("from", dt.date, "First date; two weeks ago by default."),
            QueryParam("to", dt.date, "Last date; at most 62 days after 'from'."),
        ),
        errors={403: "the caller does not teach this subject in this class", 404: "no such class"},
    ),
    Endpoint(
        "PUT",
        "/api/journal/lessons/{lesson_id}/note",
        "Set the lesson's topic and, on a test day, the test's title.",
        LessonNote,
        put_note,
        body=LessonNoteBody,
        path_params=(LESSON_ID,),
        tag="journal",
        errors=REFUSALS,
    ),
    Endpoint(
        "PUT",
        "/api/journal/lessons/{lesson_id}/attendance/{student_id}",
        "Set a student's attendance mark by hand (source 'teacher'; presence never overrides it).",
        MarkView,
        put_mark,
        body=MarkBody,
        path_params=(LESSON_ID, STUDENT_ID),
        tag="journal",
        errors=REFUSALS,
    ),
    Endpoint(
        "POST",
        "/api/journal/lessons/{lesson_id}/grades",
        "Give a student a grade (1–5, weight 1–10, optional comment); the diary shows it live "
        "and the parents get a notice.",
        GradeView,
        post_grade,
        body=NewGrade,
        path_params=(LESSON_ID,),
        tag="journal",
        errors=REFUSALS,
    ),
    Endpoint(
        "PATCH",
        "/api/journal/grades/{grade_id}",
        "Correct (or cancel) a grade: a new version naming the version it corrects; every "
        "version is kept.",
        GradeView,
        patch_grade,
        body=GradeCorrection,
        path_params=(GRADE_ID,),
        tag="journal",
        errors={**REFUSALS, 409: "the grade changed since: correct the newest version"},
    ),
    Endpoint(
        "GET",
        "/api/journal/grades/{grade_id}/versions",
        "A grade and every version of it, oldest first.",
        GradeVersions,
        grade_versions,
        path_params=(GRADE_ID,),
        tag="journal",
        errors=REFUSALS,
    ),
    Endpoint(
        "PUT",
        "/api/journal/lessons/{lesson_id}/homework",
        "Set the lesson's homework: text, due date and library materials (replacing the "
        "earlier ones; the history keeps them).",
        HomeworkView,
        put_homework,
        body=HomeworkBody,
        path_params=(LESSON_ID,),
        tag="journal",
        errors={**REFUSALS, 404: "no such lesson, or a material the caller cannot see"},
    ),
    Endpoint(
        "GET",
        "/api/journal/lessons/{lesson_id}/history",
        "Every change of the lesson's journal (who, when, what), newest first, paginated.",
        ChangePage,
        lesson_history,
        path_params=(LESSON_ID,),
        query=(LIMIT, OFFSET),
        tag="journal",
        errors=REFUSALS,
    ),
]
