// Playback of a lesson recording: the video, and the room chat in step with it. Messages
// appear as the video reaches the time they were sent; seeking back hides the later ones.
// Each message is a button that seeks the video to it.
import { applyTexts, t, toggleLanguage } from "/static/i18n.js";
import { ApiError, api, session } from "/static/session.js";

const recordingId = window.location.pathname.split("/")[2];
const $ = (id) => document.getElementById(id);
const state = { items: [], shown: -1 };

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
    state.items.push({ at: item.at, element: entry });
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

async function load() {
  const status = $("recording-status");
  status.textContent = t("recording.loading");
  try {
    const timeline = await api(`/api/recordings/${recordingId}/timeline`);
    const started = new Date(timeline.recording.started_at);
    $("recording-title").textContent = t("recording.heading", {
      subject: timeline.lesson_subject,
      date: started.toLocaleString(),
    });
    buildChat(timeline.items);
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
for (const name of ["timeupdate", "seeked", "loadedmetadata"]) video.addEventListener(name, renderChat);
if (!session.token) signIn();
else load();
