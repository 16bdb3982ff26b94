// The classroom panel: a pairing QR code until a teacher binds it to a lesson, then the
// lesson's board full screen, back to pairing when the lesson ends.
import { createBoard, listen } from "/static/board.js";
import { applyTexts, currentLanguage, t, toggleLanguage } from "/static/i18n.js";
import { connectLive, renderLive } from "/static/live.js";
import { api, session } from "/static/session.js";

const POLL_MS = 1500;
const $ = (id) => document.getElementById(id);
const state = { lesson: null, pairing: null, socket: null, board: null, timer: 0 };

function signIn() {
  session.token = null;
  window.location.replace("/?next=/panel");
}

function say(text) {
  $("panel-state").textContent = text;
}

async function poll() {
  window.clearTimeout(state.timer);
  let status;
  try {
    status = await api("/api/panel/status");
  } catch (error) {
    if (error.status === 401) return signIn();
    if (error.status === 403) return say(t("panel.not_panel"));
    state.timer = window.setTimeout(poll, POLL_MS * 2);
    return;
  }
  if (status.bound) {
    if (state.lesson?.id !== status.lesson.id) bind(status.lesson);
  } else {
    if (state.lesson) unbind();
    await showPairing();
  }
  state.timer = window.setTimeout(poll, POLL_MS);
}

async function showPairing() {
  const expires = state.pairing ? new Date(state.pairing.expires_at).getTime() : 0;
  if (Date.now() > expires - 10_000) {
    state.pairing = await api("/api/panel/pairing", { method: "POST" });
  }
  const pairing = state.pairing;
  $("pairing").hidden = false;
  $("panel-board").hidden = true;
  const qr = $("qr");
  if (qr.dataset.code !== pairing.code) {
    qr.innerHTML = pairing.qr_svg; // made by the server (segno), not from user input
    qr.dataset.code = pairing.code;
  }
  qr.setAttribute("aria-label", t("panel.pair.qr"));
  $("pair-code").textContent = t("panel.pair.code", { code: pairing.code });
  $("pair-link").textContent = t("panel.pair.link", { url: pairing.url });
  const time = new Intl.DateTimeFormat(currentLanguage() === "ru" ? "ru-RU" : "en-GB", {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).format(new Date(pairing.expires_at));
  $("pair-expires").textContent = t("panel.pair.expires", { time });
}

function bind(lesson) {
  state.lesson = lesson;
  state.pairing = null;
  $("pairing").hidden = true;
  $("panel-board").hidden = false;
  say(t("panel.bound", { subject: lesson.subject, class: lesson.class_name }));
  if (!connect()) return;
  state.board = createBoard({
    root: freshBoard(),
    getSocket: () => state.socket,
    lessonId: lesson.id,
    fullScreen: true,
  });
  listen(state.socket, state.board, { room: `room:${lesson.id}`, ink: `room:${lesson.id}:ink` });
  if (state.socket.connected) enter();
}

// The live connection is made at once (the header tells whether the panel is online) and
// enters the bound lesson's room on every (re)connect.
function connect() {
  if (!state.socket) {
    state.socket = connectLive({ onConnect: enter, onTokenRefused: signIn });
    state.socket?.on("room.state", (frame) => {
      if (frame?.data?.state === "ended") unbind();
    });
  }
  return state.socket !== null;
}

function freshBoard() {
  const old = $("board");
  const made = document.createElement("div");
  made.id = "board";
  old.replaceWith(made);
  return made;
}

async function enter() {
  const lesson = state.lesson;
  if (!lesson || !state.socket) return;
  let reply;
  try {
    reply = await state.socket.timeout(5000).emitWithAck("room.join", { lesson_id: lesson.id });
  } catch {
    return;
  }
  if (!reply?.ok) {
    if (["room_ended", "panel_not_paired"].includes(reply?.error?.code)) unbind();
    return;
  }
  await state.board?.joined();
}

function unbind() {
  if (state.lesson && state.socket?.connected) {
    state.socket.emit("room.leave", { lesson_id: state.lesson.id });
  }
  state.socket?.removeAllListeners("board.op");
  state.socket?.removeAllListeners("board.ink");
  state.socket?.removeAllListeners("board.laser");
  state.lesson = null;
  state.board = null;
  say(t("panel.ended"));
  $("panel-board").hidden = true;
}

async function signOut() {
  session.token = null;
  window.location.replace("/");
}

applyTexts();
renderLive();
$("lang").addEventListener("click", toggleLanguage);
$("signout").addEventListener("click", signOut);
document.addEventListener("languagechange", () => {
  applyTexts();
  renderLive();
  state.board?.render();
});
if (!session.token) signIn();
else {
  connect();
  poll();
}
