"""HTTP API of live lessons: opening a room, the attendance report, parents' notices and
absence reports, and the clinics' illness notes."""

from __future__ import annotations

import datetime as dt
import hmac

import msgspec
from aiohttp import web

from classroom import excuses, rooms
from classroom.errors import Forbidden, Unauthenticated
from classroom.excuses import ExcuseView
from classroom.rooms import LessonFacts, RoomStatus
from presence import attendance, notices
from presence.attendance import AttendanceReport
from presence.notices import NoticeList, NoticeView
from web.api.spec import API_KEY_HEADER, PRINCIPAL_KEY, Endpoint, QueryParam
from web.room_changes import room_changed
from web.services import SERVICES_KEY, Services

LESSON_ID = QueryParam("lesson_id", int, "The lesson occurrence.")


class RoomOpened(msgspec.Struct, frozen=True):
    lesson: LessonFacts
    status: RoomStatus
    url: str


class AbsenceReport(msgspec.Struct, frozen=True):
    child_id: int
    date_from: dt.date
    date_to: dt.date
    reason: str


class IllnessNote(msgspec.Struct, frozen=True):
    student_id: int
    date_from: dt.date
    date_to: dt.date
    reason: str = "illness"


def _services(request: web.Request) -> Services:
    return request.app[SERVICES_KEY]


async def open_room(request: web.Request, lesson_id: int) -> RoomOpened:
    services = _services(request)
    principal = request[PRINCIPAL_KEY]
    room = await rooms.load_room(services.db, lesson_id, principal.school_id)
    times = services.settings.room_times
    now = services.clock()
    room = await rooms.open_room(services.db, principal, room, now=now, times=times)
    await room_changed(services, lesson_id)
    status = rooms.room_status(room, now, times)
    await services.realtime.publish(rooms.room_channel(lesson_id), "room.state", status)
    return RoomOpened(room.lesson, status, f"/lesson/{lesson_id}")


async def _report(request: web.Request, lesson_id: int) -> AttendanceReport:
    services = _services(request)
    principal = request[PRINCIPAL_KEY]
    room = await rooms.load_room(services.db, lesson_id, principal.school_id)
    return await attendance.attendance_report(
        services.db, principal, room, now=services.clock(), times=services.settings.room_times
    )


async def attendance_json(request: web.Request, lesson_id: int) -> AttendanceReport:
    return await _report(request, lesson_id)


async def attendance_csv(request: web.Request, lesson_id: int) -> web.Response:
    report = await _report(request, lesson_id)
    return web.Response(
        text=attendance.report_csv(report),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="attendance-lesson-{lesson_id}.csv"'
        },
    )


async def list_notices(request: web.Request) -> NoticeList:
    return await notices.notices_for(_services(request).db, request[PRINCIPAL_KEY])


async def get_notice(request: web.Request, notice_id: str) -> NoticeView:
    return await notices.notice_for(_services(request).db, request[PRINCIPAL_KEY], notice_id)


async def report_absence(request: web.Request, body: AbsenceReport) -> ExcuseView:
    services = _services(request)
    return await excuses.report_by_parent(
        services.db,
        request[PRINCIPAL_KEY],
        child_id=body.child_id,
        date_from=body.date_from,
        date_to=body.date_to,
        reason=body.reason,
        now=services.clock(),
    )


async def illness_note(request: web.Request, body: IllnessNote) -> ExcuseView:
    services = _services(request)
    expected = services.settings.integration_key
    if not expected:
        raise Forbidden("integrations are not enabled here", code="integrations_disabled")
    given = request.headers.get(API_KEY_HEADER, "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthenticated(f"send the integration key in {API_KEY_HEADER}", code="bad_api_key")
    return await excuses.clinic_note(
        services.db,
        student_id=body.student_id,
        date_from=body.date_from,
        date_to=body.date_to,
        reason=body.reason,
        now=services.clock(),
    )


LESSON_ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "POST",
        "/api/lessons/{lesson_id}/open",
        "Open the lesson's room (its teacher): students may wait in the lobby.",
        RoomOpened,
        open_room,
        path_params=(LESSON_ID,),
        tag="lessons",
        errors={403: "not the lesson's teacher, or the lesson has ended", 404: "no such lesson"},
    ),
    Endpoint(
        "GET",
        "/api/lessons/{lesson_id}/attendance",
        "Attendance of the lesson: per student the status, journal mark, stays, minutes "
        "online and share of the lesson (its teacher and the admin).",
        AttendanceReport,
        attendance_json,
        path_params=(LESSON_ID,),
        tag="lessons",
        errors={403: "not the lesson's teacher", 404: "no such lesson"},
    ),
    Endpoint(
        "GET",
        "/api/lessons/{lesson_id}/attendance.csv",
        "The same report as CSV, one line per student.",
        str,
        attendance_csv,
        path_params=(LESSON_ID,),
        tag="lessons",
        content_type="text/csv",
        errors={403: "not the lesson's teacher", 404: "no such lesson"},
    ),
    Endpoint(
        "GET",
        "/api/notices",
        "The caller's own notices (a parent's absence and lateness notices), newest first.",
        NoticeList,
        list_notices,
        tag="notices",
    ),
    Endpoint(
        "GET",
        "/api/notices/{notice_id}",
        "One notice of the caller's own.",
        NoticeView,
        get_notice,
        path_params=(QueryParam("notice_id", str, "The notice."),),
        tag="notices",
        errors={404: "no such notice among the caller's"},
    ),
    Endpoint(
        "POST",
        "/api/absences",
        "A parent reports in advance that their child will be away on some days; those "
        "lessons are marked excused and no absence notice is sent.",
        ExcuseView,
        report_absence,
        body=AbsenceReport,
        tag="notices",
        errors={403: "not a parent", 404: "no such child of the caller's"},
    ),
    Endpoint(
        "POST",
        "/api/integrations/illness-notes",
        "A clinic's illness note for a student (integration key in X-Api-Key): those days "
        "are excused.",
        ExcuseView,
        illness_note,
        body=IllnessNote,
        auth=False,
        api_key=True,
        tag="integrations",
        errors={403: "integrations are not enabled", 404: "no such student"},
    ),
]
