// Playback of a lesson recording: the video, and the room chat and the whiteboard in step
// with it. Messages appear as the video reaches the time they were sent; seeking back hides
// the later ones. Each message is a button that seeks the video to it. The board is the
// board when recording began with the effects up to the video's time applied (rebuilt from
// the start when seeking back).
import { applyTexts, t, toggleLanguage } from "/static/i18n.js";
import { ApiError, api, session } from "/static/session.js";
import { paintPage } from "/static/board-draw.js";

const recordingId = window.location.pathname.split("/")[2];
const $ = (id) => document.getElementById(id);
const state = { items: [], shown: -1, timeline: null };
const board = {
  start: null, // the board when recording began (from the timeline)
  effects: [], // [{at, effect}] in the board's order
  pages: [], // the board at the video's time: [{items: Map}]
  applied: 0, // how many effects are in `pages`
  page: 0,
  followed: true, // the page follows the drawing until the viewer turns pages
  drawnOn: 0,
};

function signIn() {
  session.token = null;
  window.location.replace("/?next=" + encodeURIComponent(window.location.pathname));
}

function clock(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  const minutes = Math.floor(whole / 60);
  return `${minutes}:${String(whole % 60).padStart(2, "0")}`;
}

function renderChat() {
  const video = $("recording-video");
  const now = video.currentTime;
  let shown = 0;
  for (const item of state.items) {
    const visible = item.at <= now + 0.05;
    item.element.hidden = !visible;
    if (visible) shown += 1;
  }
  if (shown === state.shown) return;
  state.shown = shown;
  $("recording-chat-empty").hidden = shown > 0;
}

// -- the board ----------------------------------------------------------------------------

function boardFromStart() {
  board.pages = board.start.pages.map((page) => {
    const hidden = new Set(page.hidden);
    return { items: new Map(page.items.map((item) => [item.id, { ...item, hidden: hidden.has(item.id) }])) };
  });
  board.applied = 0;
  board.drawnOn = 0; // the page drawn on last
}

function applyEffect(effect) {
  if (effect.kind === "page.add") {
    board.pages.push({ items: new Map() });
    return board.pages.length - 1;
  }
  const page = board.pages[effect.page];
  if (!page) return null;
  if (effect.item) page.items.set(effect.item.id, { ...effect.item, hidden: false });
  for (const id of effect.hide ?? []) {
    const item = page.items.get(id);
    if (item) item.hidden = true;
  }
  for (const id of effect.show ?? []) {
    const item = page.items.get(id);
    if (item) item.hidden = false;
  }
  return effect.kind === "grant" || effect.kind === "revoke" ? null : effect.page;
}

function boardAt(seconds) {
  let upto = 0;
  while (upto < board.effects.length && board.effects[upto].at <= seconds + 0.05) upto += 1;
  if (upto === board.applied) return false;
  if (upto < board.applied) boardFromStart();
  for (; board.applied < upto; board.applied += 1) {
    const page = applyEffect(board.effects[board.applied].effect);
    if (page !== null) board.drawnOn = page;
  }
  if (board.followed) board.page = board.drawnOn;
  board.page = Math.max(0, Math.min(board.page, board.pages.length - 1));
  return true;
}

function paintBoard() {
  const canvas = $("recording-board-canvas");
  const stage = $("recording-board-stage");
  const ratio = window.devicePixelRatio || 1;
  const width = stage.clientWidth;
  const height = Math.round((width * board.start.height) / board.start.width);
  canvas.width = Math.max(1, Math.round(width * ratio));
  canvas.height = Math.max(1, Math.round(height * ratio));
  canvas.style.height = `${height}px`;
  stage.style.height = `${height}px`;
  const page = board.pages[board.page];
  const items = page ? [...page.items.values()] : [];
  paintPage(canvas, items, board.start.width);
  const visible = items.filter((item) => !item.hidden);
  const texts = visible.filter((item) => item.tool === "text").map((item) => item.text);
  const label = t("board.canvas", { page: board.page + 1, pages: board.pages.length });
  canvas.setAttribute("aria-label", label);
  $("recording-board-page").textContent = t("board.page", {
    page: board.page + 1,
    pages: board.pages.length,
  });
  $("recording-board-description").textContent = [
    t("board.describe", { count: visible.length }),
    texts.length ? t("board.describe.texts", { texts: texts.join("; ") }) : "",
  ].join(" ");
  $("recording-board-prev").disabled = board.page === 0;
  $("recording-board-next").disabled = board.page >= board.pages.length - 1;
  const root = $("recording-board");
  root.dataset.applied = String(board.applied);
  root.dataset.version = String(board.start.version + board.applied);
}

function renderBoard(force = false) {
  if (!board.start) return;
  const changed = boardAt($("recording-video").currentTime);
  if (changed || force) paintBoard();
}

function turnPage(step) {
  board.followed = false;
  board.page = Math.max(0, Math.min(board.pages.length - 1, board.page + step));
  paintBoard();
}

function buildBoard(start, items) {
  if (!start) return;
  board.start = start;
  board.effects = items
    .filter((item) => item.kind === "board" && item.effect)
    .map((item) => ({ at: item.at, effect: item.effect }))
    .sort((a, b) => a.effect.seq - b.effect.seq);
  boardFromStart();
  $("recording-board").hidden = false;
  renderBoard(true);
  new ResizeObserver(() => paintBoard()).observe($("recording-board-stage"));
}

// -- the chat -----------------------------------------------------------------------------

function buildChat(items) {
  const list = $("recording-chat");
  list.replaceChildren();
  state.items = [];
  for (const item of items) {
    if (item.kind !== "chat") continue;
    const entry = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = clock(item.at);
    button.setAttribute("aria-label", t("recording.seek", { time: clock(item.at) }));
    button.addEventListener("click", () => {
      $("recording-video").currentTime = item.at;
    });
    const author = document.createElement("strong");
    author.textContent = ` ${item.author}: `;
    const text = document.createElement("span");
    text.textContent = item.text;
    entry.append(button, author, text);
    entry.hidden = true;
    list.append(entry);
    state.items.push({ at: item.at, element: entry, button });
  }
  renderChat();
}

async function loadVideo(url) {
  // The file needs the access token, which a <video src> cannot send: fetch it whole and play
  // it from memory (seeking then works everywhere).
  const response = await fetch(url, { headers: { Authorization: `Bearer ${session.token}` } });
  if (!response.ok) {
    const reply = await response.json().catch(() => ({}));
    throw new ApiError(response.status, reply.error?.code ?? "http_" + response.status, reply.error?.message ?? "");
  }
  const blob = await response.blob();
  $("recording-video").src = URL.createObjectURL(blob);
}

function renderTitle() {
  const { timeline } = state;
  if (!timeline) return;
  const started = new Date(timeline.recording.started_at);
  $("recording-title").textContent = t("recording.heading", {
    subject: timeline.lesson_subject,
    date: started.toLocaleString(document.documentElement.lang),
  });
}

// The language switched: the texts made here follow.
function renderTexts() {
  renderTitle();
  for (const item of state.items) {
    item.button.setAttribute("aria-label", t("recording.seek", { time: clock(item.at) }));
  }
  if (board.start) paintBoard();
}

async function load() {
  const status = $("recording-status");
  status.textContent = t("recording.loading");
  try {
    const timeline = await api(`/api/recordings/${recordingId}/timeline`);
    state.timeline = timeline;
    renderTitle();
    buildChat(timeline.items);
    buildBoard(timeline.board, timeline.items);
    await loadVideo(timeline.recording.url);
    status.textContent = "";
  } catch (error) {
    if (error.status === 401) return signIn();
    const key = "recording.error." + error.code;
    status.textContent = t(key) === key ? t("error.generic", { message: error.message }) : t(key);
  }
}

applyTexts();
$("lang").addEventListener("click", toggleLanguage);
const video = $("recording-video");
function render() {
  renderChat();
  renderBoard();
}
for (const name of ["timeupdate", "seeked", "loadedmetadata"]) video.addEventListener(name, render);
video.addEventListener("seeking", () => {
  board.followed = true;
});
document.addEventListener("languagechange", renderTexts);
$("recording-board-prev").addEventListener("click", () => turnPage(-1));
$("recording-board-next").addEventListener("click", () => turnPage(1));
if (!session.token) signIn();
else load();
