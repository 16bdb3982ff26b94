"""HTTP API of lesson recordings: the list of a lesson's, the file (with Range requests),
the chat and board timeline, and the teacher's early deletion."""

from __future__ import annotations

import msgspec
from aiohttp import web

from recordings import store
from recordings.store import RecordingList, Timeline
from web.api.spec import PRINCIPAL_KEY, Endpoint, QueryParam
from web.services import SERVICES_KEY, Services

LESSON_ID = QueryParam("lesson_id", int, "The lesson occurrence.")
RECORDING_ID = QueryParam("recording_id", int, "The recording.")

WHO = "the lesson's teacher, its class's students and their parents"


class Deleted(msgspec.Struct, frozen=True):
    id: int
    deleted: bool = True


def _services(request: web.Request) -> Services:
    return request.app[SERVICES_KEY]


async def list_recordings(request: web.Request, lesson_id: int) -> RecordingList:
    return await store.list_for_lesson(_services(request).db, request[PRINCIPAL_KEY], lesson_id)


async def recording_file(request: web.Request, recording_id: int) -> web.FileResponse:
    services = _services(request)
    _, path = await store.for_viewer(
        services.db, request[PRINCIPAL_KEY], recording_id, services.settings.data_dir
    )
    return web.FileResponse(
        path,
        headers={"Content-Type": "video/webm", "Cache-Control": "private, no-store"},
    )


async def recording_timeline(request: web.Request, recording_id: int) -> Timeline:
    return await store.timeline(_services(request).db, request[PRINCIPAL_KEY], recording_id)


async def delete_recording(request: web.Request, recording_id: int) -> Deleted:
    services = _services(request)
    await store.remove(
        services.db, request[PRINCIPAL_KEY], recording_id, services.settings.data_dir
    )
    return Deleted(recording_id)


RECORDING_ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "GET",
        "/api/lessons/{lesson_id}/recordings",
        f"Recordings of the lesson, oldest first ({WHO}; parents' reads are audited).",
        RecordingList,
        list_recordings,
        path_params=(LESSON_ID,),
        tag="recordings",
        errors={
            403: "not the lesson's teacher, not a student of its class, or not a parent of one",
            404: "no such lesson",
        },
    ),
    Endpoint(
        "GET",
        "/api/recordings/{recording_id}/file",
        f"The recording's WebM file (VP8 + Opus); answers HTTP Range requests ({WHO}).",
        bytes,
        recording_file,
        path_params=(RECORDING_ID,),
        tag="recordings",
        content_type="video/webm",
        errors={
            403: "not the lesson's teacher, not a student of its class, or not a parent of one",
            404: "no such recording, or its file is gone",
        },
    ),
    Endpoint(
        "GET",
        "/api/recordings/{recording_id}/timeline",
        "The room's chat messages and board operations during the recording, in seconds "
        f"from its start ({WHO}).",
        Timeline,
        recording_timeline,
        path_params=(RECORDING_ID,),
        tag="recordings",
        errors={
            403: "not the lesson's teacher, not a student of its class, or not a parent of one",
            404: "no such recording",
        },
    ),
    Endpoint(
        "DELETE",
        "/api/recordings/{recording_id}",
        "Delete a recording before its retention ends (the lesson's teacher).",
        Deleted,
        delete_recording,
        path_params=(RECORDING_ID,),
        tag="recordings",
        errors={
            403: "not the lesson's teacher",
            404: "no such recording",
            409: "the recording is still running",
        },
    ),
]
