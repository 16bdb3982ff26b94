"""Lesson video in real Chromium: the teacher's page publishes its (fake) camera and
microphone through the media server, and students' pages decode the picture."""

from __future__ import annotations

import asyncio
from typing import Any

from playwright.async_api import Browser, Page

from tests.clients import LiveClient, seat
from tests.conftest import ServerFactory
from tests.web.test_live_lessons import QUICK, a_lesson

# What a lesson page does: join the room over Socket.IO, then publish or subscribe with a
# complete offer (the media server does not trickle ICE candidates).
SCRIPT = """
window.lesson = {
  async connect(token, lessonId, link) {
    const socket = io({ transports: ["websocket"], auth: { token } });
    await new Promise((ok, fail) => {
      socket.on("connect", ok);
      socket.on("connect_error", fail);
    });
    const join = link ? { lesson_id: lessonId, link } : { lesson_id: lessonId };
    const joined = await socket.emitWithAck("room.join", join);
    if (!joined.ok) throw new Error(JSON.stringify(joined.error));
    this.socket = socket; this.lessonId = lessonId;
    return joined.data.room.me.id;
  },
  async negotiate(pc, event, extra) {
    await pc.setLocalDescription(await pc.createOffer());
    if (pc.iceGatheringState !== "complete") {
      await new Promise((ok) => pc.addEventListener("icegatheringstatechange",
        () => pc.iceGatheringState === "complete" && ok()));
    }
    const reply = await this.socket.emitWithAck(event,
      { lesson_id: this.lessonId, sdp: pc.localDescription.sdp, ...extra });
    if (!reply.ok) throw new Error(JSON.stringify(reply.error));
    await pc.setRemoteDescription({ type: "answer", sdp: reply.data.sdp });
  },
  async publish() {
    const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
    const pc = new RTCPeerConnection();
    for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: "sendonly" });
    await this.negotiate(pc, "media.publish", {});
    this.pc = pc;
  },
  async subscribe(personId) {
    const pc = new RTCPeerConnection();
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.addTransceiver("video", { direction: "recvonly" });
    const video = document.createElement("video");
    video.muted = true; video.autoplay = true; document.body.append(video);
    pc.ontrack = (event) => {
      video.srcObject = event.streams[0] || new MediaStream([event.track]);
    };
    await this.negotiate(pc, "media.subscribe", { person_id: personId });
    this.pc = pc;
  },
  async video() {
    const stats = await this.pc.getStats();
    for (const report of stats.values()) {
      if (report.type === "inbound-rtp" && report.kind === "video") {
        return { decoded: report.framesDecoded || 0, codec: stats.get(report.codecId)?.mimeType,
                 width: report.frameWidth || 0 };
      }
    }
    return { decoded: 0, codec: null, width: 0 };
  },
};
"""


async def lesson_page(browser: Browser, url: str, problems: list[str]) -> Page:
    page = await (await browser.new_context()).new_page()
    page.on("pageerror", lambda error: problems.append(str(error)))
    await page.goto(f"{url}/")
    await page.add_script_tag(url="/vendor/socket.io.msgpack.min.js")
    await page.evaluate(SCRIPT)  # evaluated, so the page's CSP (no inline scripts) stays
    return page


async def decoded_video(page: Page, *, frames: int, timeout: float = 20.0) -> dict[str, Any]:
    """The page's video statistics once it has decoded ``frames`` frames."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        video: dict[str, Any] = await page.evaluate("lesson.video()")
        if video["decoded"] >= frames:
            return video
        assert asyncio.get_running_loop().time() < deadline, f"too few frames decoded: {video}"
        await asyncio.sleep(0.2)


async def test_students_pages_decode_the_teachers_camera(
    custom_server: ServerFactory, clients: list[LiveClient], media_browser: Browser
) -> None:
    server = await custom_server(media_loopback_only=True, **QUICK)
    lesson = await a_lesson(server, clients)
    problems: list[str] = []
    teacher_seat = await seat(server.url, "teacher", lesson.id)
    teacher = await lesson_page(media_browser, server.url, problems)
    teacher_id = await teacher.evaluate(
        "([token, id]) => lesson.connect(token, id)", [teacher_seat.token, lesson.id]
    )
    await teacher.evaluate("lesson.publish()")
    students: list[Page] = []
    for username in ("student", "student-5a-02"):
        place = await seat(server.url, username, lesson.id)
        page = await lesson_page(media_browser, server.url, problems)
        await page.evaluate(
            "([token, id, link]) => lesson.connect(token, id, link)",
            [place.token, lesson.id, place.link],
        )
        await page.evaluate("(person) => lesson.subscribe(person)", teacher_id)
        students.append(page)
    for page in students:
        video = await decoded_video(page, frames=20)
        assert video["codec"] == "video/VP8" and video["width"] > 0, video
    assert problems == []
