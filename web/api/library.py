"""HTTP API of the library: search, materials (file, link, text), moderation, and the
materials attached to a lesson."""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web

from classroom.errors import InvalidInput
from classroom.library import attachments, materials
from classroom.library.attachments import LessonMaterials
from classroom.library.materials import MAX_FILE_BYTES, MaterialPage, MaterialView, NewMaterial
from web.api.spec import PRINCIPAL_KEY, Endpoint, QueryParam
from web.services import SERVICES_KEY

MATERIAL_ID = QueryParam("material_id", int, "The material.")
LESSON_ID = QueryParam("lesson_id", int, "The lesson occurrence.")
CHUNK = 64 * 1024


class AttachBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    material_ids: Annotated[
        list[Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]], msgspec.Meta(max_length=20)
    ]


async def search(
    request: web.Request,
    q: str | None = None,
    subject: str | None = None,
    grade_level: int | None = None,
    state: str | None = None,
    mine: bool | None = None,
    limit: int | None = None,
    offset: int | None = None,
) -> MaterialPage:
    return await materials.search(
        request.app[SERVICES_KEY].db,
        request[PRINCIPAL_KEY],
        query=q,
        subject=subject,
        grade_level=grade_level,
        state=state,
        mine=bool(mine),
        limit=limit or 20,
        offset=offset or 0,
    )


async def create(request: web.Request, body: NewMaterial) -> MaterialView:
    services = request.app[SERVICES_KEY]
    return await materials.create(services.db, request[PRINCIPAL_KEY], body, now=services.clock())


async def get_material(request: web.Request, material_id: int) -> MaterialView:
    row = await materials.readable(
        request.app[SERVICES_KEY].db, request[PRINCIPAL_KEY], material_id
    )
    return materials.view(row)


async def _read_limited(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_FILE_BYTES:
        raise InvalidInput(f"a file is at most {MAX_FILE_BYTES} bytes", code="file_too_large")
    data = bytearray()
    while chunk := await request.content.read(CHUNK):
        data += chunk
        if len(data) > MAX_FILE_BYTES:
            raise InvalidInput(f"a file is at most {MAX_FILE_BYTES} bytes", code="file_too_large")
    return bytes(data)


async def upload(
    request: web.Request, material_id: int, file_name: str | None = None
) -> MaterialView:
    services = request.app[SERVICES_KEY]
    principal = request[PRINCIPAL_KEY]
    content_type = request.content_type.lower()
    if content_type not in materials.FILE_TYPES:
        raise InvalidInput(
            f"files of these types only: {', '.join(sorted(materials.FILE_TYPES))}",
            code="bad_file_type",
        )
    return await materials.upload(
        services.db,
        principal,
        material_id,
        data=await _read_limited(request),
        content_type=content_type,
        file_name=file_name or "file",
        now=services.clock(),
    )


async def download(request: web.Request, material_id: int) -> web.Response:
    row, data = await materials.content(
        request.app[SERVICES_KEY].db, request[PRINCIPAL_KEY], material_id
    )
    return web.Response(
        body=data,
        content_type=row.content_type or "application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="material-{row.id}"',
            "Content-Security-Policy": "sandbox; default-src 'none'",
        },
    )


async def publish(request: web.Request, material_id: int) -> MaterialView:
    services = request.app[SERVICES_KEY]
    return await materials.publish(
        services.db, request[PRINCIPAL_KEY], material_id, now=services.clock()
    )


async def lesson_materials(request: web.Request, lesson_id: int) -> LessonMaterials:
    return await attachments.lesson_materials(
        request.app[SERVICES_KEY].db, request[PRINCIPAL_KEY], lesson_id
    )


async def attach(request: web.Request, lesson_id: int, body: AttachBody) -> LessonMaterials:
    services = request.app[SERVICES_KEY]
    return await attachments.set_attached(
        services.db,
        request[PRINCIPAL_KEY],
        lesson_id,
        "lesson",
        list(body.material_ids),
        now=services.clock(),
    )


LIBRARY_ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "GET",
        "/api/library/materials",
        "Search the library: every word of 'q' in the title, subject, topic or text; "
        "published materials and the caller's own drafts (the admin sees all), newest first.",
        MaterialPage,
        search,
        tag="library",
        query=(
            QueryParam("q", str, "Words to find."),
            QueryParam("subject", str, "Only this subject."),
            QueryParam("grade_level", int, "Only this grade level (1–11)."),
            QueryParam("state", str, "'draft' or 'published'."),
            QueryParam("mine", bool, "Only the caller's own materials."),
            QueryParam("limit", int, "Page size (at most 100; 20 by default)."),
            QueryParam("offset", int, "How many to skip (the previous page's next_offset)."),
        ),
        panel=True,
        errors={403: "a panel does not search the library"},
    ),
    Endpoint(
        "POST",
        "/api/library/materials",
        "Add a material (a teacher): a link, a text, or a file uploaded next; it starts as a "
        "draft.",
        MaterialView,
        create,
        body=NewMaterial,
        tag="library",
        errors={403: "not a teacher"},
    ),
    Endpoint(
        "GET",
        "/api/library/materials/{material_id}",
        "One material the caller may see.",
        MaterialView,
        get_material,
        path_params=(MATERIAL_ID,),
        tag="library",
        panel=True,
        errors={404: "no such material among those the caller may see"},
    ),
    Endpoint(
        "PUT",
        "/api/library/materials/{material_id}/file",
        f"Upload the file of a draft file material (its author): PDF, PNG, JPEG, UTF-8 text or "
        f"MP4, at most {MAX_FILE_BYTES // (1024 * 1024)} MB; the body is the file itself.",
        MaterialView,
        upload,
        path_params=(MATERIAL_ID,),
        query=(QueryParam("file_name", str, "The file's name."),),
        raw_body="application/octet-stream",
        tag="library",
        errors={403: "the material is published", 404: "no such material of the caller's"},
    ),
    Endpoint(
        "GET",
        "/api/library/materials/{material_id}/file",
        "Download the material's file.",
        bytes,
        download,
        path_params=(MATERIAL_ID,),
        content_type="application/octet-stream",
        tag="library",
        panel=True,
        errors={404: "no such material, or it has no file"},
    ),
    Endpoint(
        "POST",
        "/api/library/materials/{material_id}/publish",
        "Publish a draft (the school's moderator: the admin).",
        MaterialView,
        publish,
        path_params=(MATERIAL_ID,),
        tag="library",
        errors={403: "not the moderator", 404: "no such material"},
    ),
    Endpoint(
        "GET",
        "/api/library/lessons/{lesson_id}/materials",
        "Materials attached to a lesson and to its homework: for the lesson's teacher, its "
        "class, their parents and trusted persons (and a panel bound to it).",
        LessonMaterials,
        lesson_materials,
        path_params=(LESSON_ID,),
        tag="library",
        panel=True,
        errors={404: "no such lesson among the caller's"},
    ),
    Endpoint(
        "PUT",
        "/api/library/lessons/{lesson_id}/materials",
        "Set the materials attached to the lesson itself (its teacher).",
        LessonMaterials,
        attach,
        body=AttachBody,
        path_params=(LESSON_ID,),
        tag="library",
        errors={403: "not the lesson's teacher", 404: "no such lesson or material"},
    ),
]
