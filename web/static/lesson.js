// A lesson's live room: the student's lobby, chat, hand and reactions, and the teacher's
// console with participants, hands, controls and the attendance report. Video: media.js.
import { applyTexts, currentLanguage, hasText, t, toggleLanguage } from "/static/i18n.js";
import { createBoard, listen } from "/static/board.js";
import { connectLive, renderLive } from "/static/live.js";
import {
  MEDIA_EVENTS,
  mediaAllowButton,
  mediaDisconnected,
  mediaEnded,
  mediaEvent,
  mediaJoined,
  renderMedia,
  setupMedia,
  toggleRecording,
} from "/static/media.js";
import { api, session } from "/static/session.js";

const ACK_TIMEOUT = 5000;
const ATTENDANCE_DELAY = 250;
const FEED_LENGTH = 6;
const REACTIONS = {
  thumbs_up: "👍",
  clap: "👏",
  smile: "😊",
  surprised: "😮",
  question: "❓",
  heart: "❤️",
};
const SWITCHES = ["locked", "chat_locked", "muted_all"];
// Refusals that another try can cure (the others need a new link or nothing helps).
const RETRYABLE = new Set([
  "room_not_open",
  "room_locked",
  "timeout",
  "offline",
  "rate_limited",
  "internal",
]);

const lessonId = Number(window.location.pathname.split("/")[2]);
const LINK_KEY = `urok.link.${lessonId}`;

const state = {
  profile: null,
  lesson: null,
  status: null,
  self: null,
  teacher: false,
  grace: 15,
  joined: false,
  joining: false,
  rejoin: false,
  buffer: [],
  roomOffset: null,
  userOffset: null,
  messages: [],
  hands: new Map(),
  reactions: [],
  attendance: null,
  presence: new Map(),
  reportOpen: false,
  handBusy: false,
  recipientsShown: "",
  problem: null,
  removed: false,
  outbox: new Map(),
  socket: null,
  link: null,
};

const $ = (id) => document.getElementById(id);
const messageNodes = new Map();
const personNodes = new Map();
let attendanceTimer = null;

class RoomError extends Error {
  constructor(code, message, retryAfter = 0) {
    super(message);
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

// -- the join link: kept for this tab, out of the address bar ---------------------------

function takeLink() {
  const url = new URL(window.location.href);
  const given = url.searchParams.get("link");
  if (given) {
    sessionStorage.setItem(LINK_KEY, given);
    url.searchParams.delete("link");
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  return sessionStorage.getItem(LINK_KEY);
}

function signIn() {
  session.token = null;
  state.socket?.close();
  window.location.replace("/?next=" + encodeURIComponent(`/lesson/${lessonId}`));
}

// -- small helpers ----------------------------------------------------------------------

function element(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

function hidden(text) {
  return element("span", "visually-hidden", text);
}

function show(node, visible) {
  node.hidden = !visible;
}

function locale() {
  return currentLanguage() === "ru" ? "ru-RU" : "en-GB";
}

function zone() {
  return state.profile?.school?.timezone;
}

function clock(moment) {
  if (!moment) return "—";
  return new Intl.DateTimeFormat(locale(), {
    hour: "2-digit",
    minute: "2-digit",
    timeZone: zone(),
  }).format(new Date(moment));
}

function clientId() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function explain(error) {
  if (error.code === "not_a_participant" && state.profile?.role === "parent") {
    return t("lesson.refused.parent");
  }
  const key = "lesson.refused." + error.code;
  if (hasText(key)) return t(key);
  return t("error.generic", { message: error.message || error.code });
}

function announce(text) {
  const alert = $("alert");
  alert.textContent = "";
  // A fresh text node, so that the same words said twice are announced twice.
  window.setTimeout(() => {
    alert.textContent = text;
  }, 50);
}

function roomChannel() {
  return `room:${lessonId}`;
}

function userChannel() {
  return state.self ? `user:${state.self.id}` : null;
}

function staffChannel() {
  return `room:${lessonId}:staff`;
}

// -- the connection ---------------------------------------------------------------------

async function call(event, payload, timeout = ACK_TIMEOUT) {
  const socket = state.socket;
  if (!socket?.connected) throw new RoomError("offline", "offline");
  let reply;
  try {
    reply = await socket.timeout(timeout).emitWithAck(event, payload);
  } catch {
    throw new RoomError("timeout", "timeout");
  }
  if (!reply?.ok) {
    const error = reply?.error ?? {};
    throw new RoomError(error.code ?? "internal", error.message ?? "", error.retry_after ?? 0);
  }
  return reply.data;
}

function connect() {
  const socket = connectLive({ onConnect: join, onTokenRefused: signIn, lesson: lessonId });
  state.socket = socket;
  if (!socket) return;
  for (const name of Object.keys(HANDLERS)) {
    socket.on(name, (frame) => onFrame(name, frame));
  }
  state.board = createBoard({
    root: $("board"),
    getSocket: () => state.socket,
    lessonId,
    roster: () =>
      (state.attendance?.rows ?? []).map((row) => ({ id: row.student_id, name: row.display_name })),
  });
  listen(socket, state.board, { room: roomChannel(), ink: `room:${lessonId}:ink` });
  socket.on("disconnect", mediaDisconnected);
  socket.on("channel.reload", () => {
    // The server lost events of a channel: start over from the full state.
    state.roomOffset = null;
    state.userOffset = null;
    join();
  });
}

function onFrame(name, frame) {
  if (!frame || typeof frame !== "object") return;
  if (state.joining) {
    state.buffer.push([name, frame]);
    return;
  }
  handleFrame(name, frame);
}

function handleFrame(name, frame) {
  const { channel, offset } = frame;
  if (channel === roomChannel()) {
    if (state.roomOffset !== null && offset <= state.roomOffset) return;
    state.roomOffset = offset;
  } else if (channel === userChannel()) {
    if (state.userOffset !== null && offset <= state.userOffset) return;
    state.userOffset = offset;
  } else if (channel !== staffChannel()) {
    return;
  }
  HANDLERS[name](frame.data ?? {});
}

async function join() {
  if (state.removed) return;
  if (state.joining) {
    state.rejoin = true;
    return;
  }
  state.joining = true;
  state.buffer = [];
  try {
    await joinUserChannel();
    const payload = { lesson_id: lessonId };
    if (state.link) payload.link = state.link;
    const resuming = state.joined && state.roomOffset !== null;
    if (resuming) payload.since = state.roomOffset;
    const joined = await call("room.join", payload);
    applyJoin(joined, resuming);
  } catch (error) {
    refuse(error);
  } finally {
    state.joining = false;
    const waiting = state.buffer;
    state.buffer = [];
    if (state.joined) for (const [name, frame] of waiting) handleFrame(name, frame);
    if (state.rejoin) {
      state.rejoin = false;
      join();
    }
  }
  if (state.joined && state.outbox.size) resendOutbox();
  if (state.joined && !state.problem && state.board) await state.board.joined();
  if (inLiveRoom()) mediaJoined();
}

function inLiveRoom() {
  return state.joined && !state.problem && !state.removed && roomState() === "live";
}

async function joinUserChannel() {
  // Private messages come on the person's own channel.
  try {
    const since = state.userOffset;
    const attached = await call("notices.join", since === null ? {} : { since });
    const events = attached.reload ? [] : attached.events;
    state.userOffset = attached.offset;
    for (const item of events) {
      if (item.event === "chat.message") addMessage(item.data);
    }
  } catch {
    // The room still works without it; private messages show from the history.
  }
}

function applyJoin({ room, stream }, resuming) {
  const before = state.status;
  state.lesson = room.lesson;
  state.self = room.me;
  state.teacher = room.teacher;
  state.grace = room.reconnect_grace_seconds;
  state.problem = null;
  state.hands = new Map(room.hands.map((hand) => [hand.person_id, hand]));
  if (!resuming || stream.reload) {
    state.messages = [...room.messages];
  } else {
    state.messages = mergeHistory(state.messages, room.messages);
  }
  state.roomOffset = stream.offset;
  for (const item of stream.events) {
    if (item.event === "chat.message") addMessage(item.data);
    if (item.event === "chat.deleted") removeMessage(item.data.id);
  }
  state.status = room.status;
  const first = !state.joined;
  state.joined = true;
  if (before && !first) noteChanges(before, room.status);
  if (state.teacher) {
    for (const live of state.presence.values()) window.clearTimeout(live.timer);
    state.presence.clear();
    loadAttendance(0);
  }
  render(first);
}

// History is the latest messages: keep older ones we hold, drop those deleted since.
function mergeHistory(held, history) {
  if (history.length === 0) return [];
  const fresh = new Set(history.map((message) => message.id));
  const at = held.findIndex((message) => message.id === history[0].id);
  const older = at > 0 ? held.slice(0, at).filter((message) => !fresh.has(message.id)) : [];
  return [...older, ...history];
}

function refuse(error) {
  if (error.code === "overloaded" && !state.removed) {
    // Many people are entering at once: come back when told, a little spread out.
    const seconds = Math.max(1, error.retryAfter) * (0.8 + Math.random() * 0.4);
    announce(t("lesson.busy", { seconds: Math.ceil(seconds) }));
    window.setTimeout(join, seconds * 1000);
    return;
  }
  if (state.joined && RETRYABLE.has(error.code) && !state.removed) {
    // Back from a dropped connection, the room is still here: try again shortly.
    announce(t("lesson.rejoin_failed"));
    window.setTimeout(join, 2000);
    return;
  }
  if (error.code === "room_ended" && canRunLessons()) {
    endedForTeacher();
    return;
  }
  if (error.code === "removed") state.removed = true;
  state.problem = { code: error.code, text: explain(error) };
  render();
}

function canRunLessons() {
  return state.teacher || ["teacher", "admin"].includes(state.profile?.role);
}

// After the end the room refuses everyone; its teacher still gets the report.
async function endedForTeacher() {
  let report;
  try {
    report = await api(`/api/lessons/${lessonId}/attendance`);
  } catch {
    state.problem = { code: "room_ended", text: t("lesson.refused.room_ended") };
    render();
    return;
  }
  state.attendance = report;
  state.teacher = true;
  state.lesson ??= {
    subject: report.subject,
    class_name: report.school_class,
    teacher_name: state.profile.display_name,
    starts_at: report.starts_at,
    ends_at: report.ends_at,
  };
  state.status = {
    lesson_id: lessonId,
    state: "ended",
    switches: state.status?.switches ?? { locked: false, chat_locked: false, muted_all: false },
  };
  state.joined = true;
  state.problem = null;
  render(true);
}

// -- live events ------------------------------------------------------------------------

const HANDLERS = {
  "room.state": (status) => {
    if (status.lesson_id !== lessonId) return;
    const before = state.status;
    state.status = status;
    if (before) noteChanges(before, status);
    render();
    if (status.state === "live" && before?.state !== "live" && inLiveRoom()) mediaJoined();
    if (status.state === "ended") mediaEnded();
  },
  "chat.message": (message) => {
    if (message.lesson_id !== lessonId) return;
    if (addMessage(message)) renderMessages();
  },
  "chat.deleted": (deleted) => {
    if (deleted.lesson_id === lessonId && removeMessage(deleted.id)) renderMessages();
  },
  "hand.changed": (hand) => {
    if (hand.raised) state.hands.set(hand.person_id, hand);
    else state.hands.delete(hand.person_id);
    const mine = hand.person_id === state.self?.id && !state.teacher;
    if (mine && !hand.raised && !state.handBusy) announce(t("lesson.hand.lowered"));
    renderTools();
    renderHands();
    renderPeople();
  },
  reaction: (reaction) => {
    if (reaction.lesson_id !== lessonId) return;
    state.reactions.unshift(reaction);
    state.reactions.length = Math.min(state.reactions.length, FEED_LENGTH);
    renderFeed();
  },
  "channel.evict": (evicted) => {
    if (evicted.person_id === state.self?.id && !state.teacher) {
      state.removed = true;
      state.problem = { code: "removed", text: t("lesson.refused.removed") };
      mediaEnded();
      announce(t("lesson.refused.removed"));
      render();
    }
  },
  "attendance.marked": (marked) => {
    if (state.teacher && marked.lesson_id === lessonId) loadAttendance(0);
  },
  "presence.changed": (change) => {
    if (!state.teacher || change.lesson_id !== lessonId || change.person.role !== "student") {
      return;
    }
    const id = change.person.id;
    window.clearTimeout(state.presence.get(id)?.timer);
    if (change.online) {
      state.presence.set(id, { online: true });
    } else {
      const timer = window.setTimeout(() => {
        state.presence.set(id, { online: false, left: true });
        renderPeople();
        loadAttendance(0);
      }, state.grace * 1000);
      state.presence.set(id, { online: false, reconnecting: true, timer });
    }
    renderPeople();
    loadAttendance();
  },
};

for (const name of MEDIA_EVENTS) HANDLERS[name] = (data) => mediaEvent(name, data);

function noteChanges(before, after) {
  if (before.state !== after.state) {
    if (after.state === "live" && !state.teacher) announce(t("lesson.started"));
    if (after.state === "ended") announce(t("lesson.ended"));
    return;
  }
  for (const name of SWITCHES) {
    if (before.switches[name] !== after.switches[name]) {
      announce(t(`lesson.note.${name}.${after.switches[name] ? "on" : "off"}`));
    }
  }
}

function addMessage(message) {
  if (message.lesson_id !== lessonId) return false;
  if (state.messages.some((held) => held.id === message.id)) return false;
  state.messages.push(message);
  return true;
}

function removeMessage(id) {
  const before = state.messages.length;
  state.messages = state.messages.filter((message) => message.id !== id);
  return state.messages.length !== before;
}

// -- rendering --------------------------------------------------------------------------

function render(rebuild = false) {
  applyTexts();
  renderLive();
  const lesson = state.lesson;
  const name = lesson ? lesson.subject : t("lesson.title");
  document.title = `${name} · ${t("app.name")}`;
  $("title").textContent = name;
  $("facts").textContent = lesson
    ? [
        `${t("today.class")}: ${lesson.class_name}`,
        `${t("today.teacher")}: ${lesson.teacher_name}`,
        `${clock(lesson.starts_at)}–${clock(lesson.ends_at)}`,
      ].join(" · ")
    : "";
  renderState();
  renderNotes();
  renderChatForm();
  renderMessages(rebuild);
  renderBoard();
  renderTools();
  renderControls();
  renderHands();
  renderPeople();
  renderFeed();
  renderReport();
  renderMedia(inLiveRoom());
}

function roomState() {
  return state.status?.state ?? "scheduled";
}

function renderState() {
  const problem = state.problem;
  show($("problem"), Boolean(problem));
  if (problem) {
    $("problem-text").textContent = problem.text;
    show($("retry"), RETRYABLE.has(problem.code));
    show($("as-child"), problem.code === "not_a_participant" && state.profile?.role === "parent");
  }
  const text = $("state-text");
  text.removeAttribute("data-i18n");
  const current = roomState();
  const waiting = !state.teacher && (current === "open" || current === "scheduled");
  show($("lobby"), !problem && state.joined && waiting);
  show($("room"), !problem && state.joined && !waiting);
  if (problem) text.textContent = "";
  else if (!state.joined) text.textContent = t("lesson.connecting");
  else text.textContent = t(`lesson.state.${current}${state.teacher ? ".teacher" : ""}`);
  text.dataset.state = state.joined ? current : "connecting";
}

function renderNotes() {
  const notes = $("notes");
  notes.replaceChildren();
  if (state.status) {
    for (const name of SWITCHES) {
      if (state.status.switches[name]) notes.append(element("li", null, t(`lesson.note.${name}`)));
    }
    if (roomState() === "ended") notes.append(element("li", null, t("lesson.ended")));
  }
  show(notes, notes.children.length > 0);
}

function chatLockedForMe() {
  return !state.teacher && Boolean(state.status?.switches.chat_locked);
}

function recipients() {
  const options = [{ value: "", label: t("lesson.chat.everyone") }];
  if (state.teacher) {
    for (const row of state.attendance?.rows ?? []) {
      options.push({
        value: String(row.student_id),
        label: t("lesson.chat.private_to", { name: row.display_name }),
      });
    }
  } else if (state.lesson) {
    options.push({
      value: String(state.lesson.teacher_id),
      label: t("lesson.chat.private_to_teacher", { name: state.lesson.teacher_name }),
    });
  }
  return options;
}

function renderChatForm() {
  const select = $("chat-to");
  const chosen = select.value;
  const options = recipients();
  const locked = chatLockedForMe();
  const shown = JSON.stringify([locked, options]);
  if (shown !== state.recipientsShown) {
    state.recipientsShown = shown;
    select.replaceChildren(
      ...options.map(({ value, label }) => {
        const option = element("option", null, label);
        option.value = value;
        option.disabled = locked && value === "";
        return option;
      }),
    );
    if (options.some((option) => option.value === chosen)) select.value = chosen;
  }
  if (locked && select.value === "") select.value = options[1]?.value ?? "";
  const ended = roomState() === "ended";
  show($("chat-form"), !ended && !state.removed);
  $("chat-hint").textContent = locked ? t("lesson.note.chat_locked") : "";
}

function messageItem(message) {
  const mine = message.author.id === state.self?.id;
  const item = element("li", "message");
  item.dataset.messageId = message.id;
  if (message.to) item.classList.add("private");
  if (mine) item.classList.add("mine");
  const meta = element("p", "meta");
  meta.append(element("strong", "author", message.author.display_name));
  if (message.author.role === "teacher" || message.author.role === "admin") {
    meta.append(element("span", "role", ` (${t("role." + message.author.role).toLowerCase()})`));
  }
  if (message.to) {
    const target = message.to.id === state.self?.id ? t("lesson.chat.to_you") : message.to.display_name;
    meta.append(" ", element("span", "private-tag", t("lesson.chat.private", { name: target })));
  }
  const time = element("time", "muted", clock(message.sent_at));
  time.dateTime = message.sent_at;
  meta.append(" ", time);
  item.append(meta, element("p", "text", message.text));
  if (state.teacher) {
    const actions = element("div", "actions");
    if (message.author.role === "student") {
      const reply = element("button", "small-button", t("lesson.chat.reply"));
      reply.type = "button";
      reply.append(hidden(`: ${message.author.display_name}`));
      reply.addEventListener("click", () => writeTo(message.author.id));
      actions.append(reply);
    }
    const remove = element("button", "small-button", t("lesson.chat.delete"));
    remove.type = "button";
    remove.append(hidden(t("lesson.chat.delete_of", { name: message.author.display_name })));
    remove.addEventListener("click", () => deleteMessage(message.id));
    actions.append(remove);
    item.append(actions);
  }
  return item;
}

function renderMessages(rebuild = false) {
  const list = $("messages");
  if (rebuild) {
    messageNodes.clear();
    list.replaceChildren();
  }
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const wanted = new Set(state.messages.map((message) => message.id));
  for (const [id, node] of messageNodes) {
    if (!wanted.has(id)) {
      node.remove();
      messageNodes.delete(id);
    }
  }
  let cursor = list.firstElementChild;
  for (const message of state.messages) {
    let node = messageNodes.get(message.id);
    if (!node) {
      node = messageItem(message);
      messageNodes.set(message.id, node);
    }
    if (node === cursor) cursor = cursor.nextElementSibling;
    else list.insertBefore(node, cursor);
  }
  show($("chat-empty"), state.messages.length === 0);
  if (atBottom || rebuild) list.scrollTop = list.scrollHeight;
}

function renderBoard() {
  show($("board-panel"), state.joined && !state.problem && roomState() !== "ended");
  state.board?.render();
}

function renderTools() {
  const student = !state.teacher && roomState() === "live" && !state.removed;
  show($("tools"), state.joined && student);
  const raised = state.self ? state.hands.has(state.self.id) : false;
  const hand = $("hand");
  hand.setAttribute("aria-pressed", String(raised));
  $("hand-state").textContent = raised ? t("lesson.hand.up") : t("lesson.hand.down");
  const buttons = $("reaction-buttons");
  if (buttons.children.length === 0) {
    for (const kind of Object.keys(REACTIONS)) {
      const button = element("button", "reaction");
      button.type = "button";
      button.dataset.kind = kind;
      button.addEventListener("click", () => react(kind));
      buttons.append(button);
    }
  }
  for (const button of buttons.children) {
    const kind = button.dataset.kind;
    const emoji = element("span", null, REACTIONS[kind]);
    emoji.setAttribute("aria-hidden", "true");
    button.replaceChildren(emoji, hidden(t("lesson.reaction." + kind)));
    button.title = t("lesson.reaction." + kind);
  }
}

function renderFeed() {
  const feed = $("reaction-feed");
  feed.replaceChildren(
    ...state.reactions.map((reaction) => {
      const item = element("li");
      const emoji = element("span", "emoji", REACTIONS[reaction.kind] ?? "");
      emoji.setAttribute("aria-hidden", "true");
      item.append(
        emoji,
        ` ${reaction.person.display_name}: ${t("lesson.reaction." + reaction.kind)}`,
        " ",
      );
      const time = element("time", "muted", clock(reaction.at));
      time.dateTime = reaction.at;
      item.append(time);
      return item;
    }),
  );
  show($("feed-empty"), state.reactions.length === 0);
}

function renderControls() {
  show($("controls"), state.joined && state.teacher);
  if (!state.teacher || !state.status) return;
  const ended = roomState() === "ended";
  const switches = state.status.switches;
  const toggles = { lock: "locked", "lock-chat": "chat_locked", "mute-all": "muted_all" };
  for (const [id, name] of Object.entries(toggles)) {
    $(id).setAttribute("aria-pressed", String(Boolean(switches[name])));
    show($(id), !ended);
  }
  show($("end"), !ended);
  $("report-toggle").setAttribute("aria-expanded", String(state.reportOpen));
  $("report-toggle").textContent = t(state.reportOpen ? "lesson.report.hide" : "lesson.report.show");
}

function renderHands() {
  show($("hands-panel"), state.joined && state.teacher);
  if (!state.teacher) return;
  const list = $("hands");
  const raised = [...state.hands.values()].sort((a, b) => (a.at < b.at ? -1 : 1));
  list.replaceChildren(
    ...raised.map((hand) => {
      const item = element("li", "hand-row");
      item.dataset.personId = hand.person_id;
      item.append(element("span", "name", hand.display_name));
      const time = element("time", "muted", clock(hand.at));
      time.dateTime = hand.at;
      item.append(time);
      const lower = element("button", "small-button", t("lesson.hands.lower"));
      lower.type = "button";
      lower.append(hidden(`: ${hand.display_name}`));
      lower.addEventListener("click", () => lowerHand(hand.person_id));
      item.append(lower);
      return item;
    }),
  );
  show($("hands-empty"), raised.length === 0);
}

function shownStatus(row) {
  const live = state.presence.get(row.student_id);
  const online = live ? live.online : row.online;
  if (online) return { status: row.status === "late" ? "late" : "present", online };
  if (live?.reconnecting) return { status: "reconnecting", online };
  if (live?.left) return { status: "left", online };
  return { status: row.status, online };
}

function personItem(row) {
  const item = element("li", "person");
  item.dataset.personId = row.student_id;
  const line = element("p", "person-line");
  const name = element("strong", "name");
  const status = element("span", "status");
  const online = element("span", "online-tag");
  const hand = element("span", "hand-tag");
  line.append(name, " ", status, " ", online, " ", hand);
  const more = element("details", "person-actions");
  const summary = element("summary");
  const write = element("button", "small-button");
  write.type = "button";
  write.addEventListener("click", () => writeTo(row.student_id));
  const remove = element("button", "small-button danger");
  remove.type = "button";
  remove.addEventListener("click", () => removePerson(row.student_id));
  const revoke = element("button", "small-button");
  revoke.type = "button";
  revoke.addEventListener("click", () => revokeLink(row.student_id));
  const buttons = element("div", "actions");
  buttons.append(write, mediaAllowButton(row.student_id), remove, revoke);
  more.append(summary, buttons);
  item.append(line, more);
  item.parts = { name, status, online, hand, more, summary, write, remove, revoke };
  return item;
}

function updatePerson(item, row) {
  const { name, status, online, hand, more, summary, write, remove, revoke } = item.parts;
  const shown = shownStatus(row);
  name.textContent = row.display_name;
  status.textContent = t("attendance." + shown.status);
  status.className = `status status-${shown.status}`;
  online.textContent = shown.online ? t("lesson.people.online") : "";
  hand.textContent = state.hands.has(row.student_id) ? t("lesson.people.hand") : "";
  summary.replaceChildren(t("lesson.people.actions"), hidden(`: ${row.display_name}`));
  write.replaceChildren(t("lesson.people.write"), hidden(`: ${row.display_name}`));
  remove.replaceChildren(t("lesson.people.remove"), hidden(`: ${row.display_name}`));
  revoke.replaceChildren(t("lesson.people.revoke"), hidden(`: ${row.display_name}`));
  more.hidden = roomState() === "ended";
}

function renderPeople() {
  show($("people-panel"), state.joined && state.teacher);
  if (!state.teacher) return;
  const rows = state.attendance?.rows ?? [];
  const list = $("people");
  const wanted = new Set(rows.map((row) => row.student_id));
  for (const [id, node] of personNodes) {
    if (!wanted.has(id)) {
      node.remove();
      personNodes.delete(id);
    }
  }
  let cursor = list.firstElementChild;
  let here = 0;
  for (const row of rows) {
    let node = personNodes.get(row.student_id);
    if (!node) {
      node = personItem(row);
      personNodes.set(row.student_id, node);
    }
    updatePerson(node, row);
    if (shownStatus(row).online) here += 1;
    if (node === cursor) cursor = cursor.nextElementSibling;
    else list.insertBefore(node, cursor);
  }
  $("people-summary").textContent = state.attendance
    ? t("lesson.people.summary", { here, total: rows.length })
    : t("lesson.people.loading");
}

function renderReport() {
  const section = $("report");
  show(section, state.teacher && state.reportOpen && !state.problem);
  if (!state.teacher || !state.reportOpen) return;
  const report = state.attendance;
  const table = $("report-table");
  if (!report) {
    table.replaceChildren();
    $("report-note").textContent = t("lesson.people.loading");
    return;
  }
  $("report-note").textContent = t("lesson.report.note", {
    time: clock(report.generated_at),
    grace: Math.round(report.reconnect_grace_seconds),
  });
  const caption = element(
    "caption",
    "visually-hidden",
    `${t("lesson.report.title")}: ${report.subject}, ${report.school_class}`,
  );
  const head = element("thead");
  const headRow = element("tr");
  for (const key of ["name", "status", "first", "last", "stays", "minutes", "share"]) {
    const cell = element("th", null, t("lesson.report.col." + key));
    cell.scope = "col";
    headRow.append(cell);
  }
  head.append(headRow);
  const body = element("tbody");
  for (const row of report.rows) {
    const line = element("tr");
    line.dataset.personId = row.student_id;
    const name = element("th", "name", row.display_name);
    name.scope = "row";
    line.append(
      name,
      element("td", "status", t("attendance." + row.status)),
      element("td", "first", clock(row.first_joined_at)),
      element("td", "last", row.last_left_at ? clock(row.last_left_at) : "—"),
      element("td", "stays", String(row.stays.length)),
      element("td", "minutes", row.minutes_online.toLocaleString(locale())),
      element("td", "share", `${Math.round(row.share * 100)} %`),
    );
    body.append(line);
  }
  table.replaceChildren(caption, head, body);
}

// -- actions ----------------------------------------------------------------------------

function loadAttendance(delay = ATTENDANCE_DELAY) {
  window.clearTimeout(attendanceTimer);
  attendanceTimer = window.setTimeout(async () => {
    try {
      state.attendance = await api(`/api/lessons/${lessonId}/attendance`);
      state.grace = state.attendance.reconnect_grace_seconds;
    } catch (error) {
      if (error.status === 401) return signIn();
      $("console-status").textContent = t("lesson.report.failed");
      return;
    }
    renderPeople();
    renderChatForm();
    renderReport();
  }, delay);
}

function writeTo(personId) {
  const select = $("chat-to");
  select.value = String(personId);
  $("chat-text").focus();
}

async function sendChat(event) {
  event.preventDefault();
  const input = $("chat-text");
  const errorBox = $("chat-error");
  errorBox.textContent = "";
  const text = input.value.trim();
  if (!text) {
    errorBox.textContent = t("lesson.chat.empty_text");
    input.focus();
    return;
  }
  const to = $("chat-to").value;
  // The same words to the same person keep their id: a resend is not posted twice.
  const held = [...state.outbox.values()].find((item) => item.text === text && item.to === to);
  const item = held ?? { id: clientId(), text, to };
  state.outbox.set(item.id, item);
  $("chat-send").disabled = true;
  try {
    await deliver(item);
    if (input.value.trim() === text) input.value = "";
  } catch (error) {
    errorBox.textContent = chatError(error);
  } finally {
    $("chat-send").disabled = false;
    input.focus();
  }
}

async function deliver(item) {
  const payload = { lesson_id: lessonId, text: item.text, client_id: item.id };
  if (item.to) payload.to = Number(item.to);
  try {
    await call("chat.send", payload);
    state.outbox.delete(item.id);
  } catch (error) {
    // Kept for a resend only when the connection failed; a refusal is final.
    if (error.code !== "timeout" && error.code !== "offline") state.outbox.delete(item.id);
    throw error;
  }
}

async function resendOutbox() {
  for (const item of [...state.outbox.values()]) {
    try {
      await deliver(item);
      const input = $("chat-text");
      if (input.value.trim() === item.text) input.value = "";
      $("chat-error").textContent = "";
    } catch (error) {
      $("chat-error").textContent = chatError(error);
      return;
    }
  }
}

function chatError(error) {
  if (error.code === "timeout" || error.code === "offline") return t("lesson.chat.pending");
  return explain(error);
}

async function deleteMessage(id) {
  try {
    await call("chat.delete", { lesson_id: lessonId, message_id: id });
    $("console-status").textContent = t("lesson.chat.deleted");
    $("chat-text").focus();
  } catch (error) {
    $("console-status").textContent = explain(error);
  }
}

async function toggleHand() {
  const raised = state.self ? state.hands.has(state.self.id) : false;
  $("tools-error").textContent = "";
  state.handBusy = true;
  try {
    const hand = await call("hand.set", { lesson_id: lessonId, raised: !raised });
    if (hand.raised) state.hands.set(hand.person_id, hand);
    else state.hands.delete(hand.person_id);
    renderTools();
  } catch (error) {
    $("tools-error").textContent = explain(error);
  } finally {
    state.handBusy = false;
  }
}

async function react(kind) {
  $("tools-error").textContent = "";
  try {
    await call("reaction.send", { lesson_id: lessonId, kind });
  } catch (error) {
    $("tools-error").textContent = explain(error);
  }
}

async function lowerHand(personId) {
  const buttons = [...$("hands").querySelectorAll("button")];
  const at = buttons.findIndex((button) => button.closest("li").dataset.personId == personId);
  try {
    const hand = await call("hand.set", {
      lesson_id: lessonId,
      raised: false,
      person_id: personId,
    });
    state.hands.delete(hand.person_id);
    renderHands();
    renderPeople();
    const left = $("hands").querySelectorAll("button");
    (left[Math.min(at, left.length - 1)] ?? $("hands-title")).focus();
  } catch (error) {
    $("console-status").textContent = explain(error);
  }
}

async function control(action, doneKey) {
  try {
    state.status = await call("room.control", { lesson_id: lessonId, action });
    $("console-status").textContent = t(doneKey);
    render();
  } catch (error) {
    $("console-status").textContent = explain(error);
  }
}

function toggleSwitch(name, on, off) {
  const set = Boolean(state.status?.switches[name]);
  return control(set ? off : on, `lesson.done.${set ? off : on}`);
}

function confirm(titleKey, textKey, yesKey, values = {}) {
  const dialog = $("confirm");
  $("confirm-title").textContent = t(titleKey, values);
  $("confirm-text").textContent = t(textKey, values);
  $("confirm-yes").textContent = t(yesKey, values);
  $("confirm-no").textContent = t("lesson.confirm.cancel");
  const opener = document.activeElement;
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        opener?.focus?.();
        resolve(dialog.returnValue === "yes");
      },
      { once: true },
    );
    dialog.returnValue = "";
    dialog.showModal();
    $("confirm-no").focus();
  });
}

async function endLesson() {
  if (await confirm("lesson.confirm.end_title", "lesson.confirm.end_text", "lesson.confirm.end_yes")) {
    await control("end", "lesson.done.end");
  }
}

function nameOf(personId) {
  const row = state.attendance?.rows.find((one) => one.student_id === personId);
  return row?.display_name ?? String(personId);
}

async function removePerson(personId) {
  const name = nameOf(personId);
  const sure = await confirm(
    "lesson.confirm.remove_title",
    "lesson.confirm.remove_text",
    "lesson.confirm.remove_yes",
    { name },
  );
  if (!sure) return;
  try {
    await call("room.remove", { lesson_id: lessonId, person_id: personId });
    $("console-status").textContent = t("lesson.done.remove", { name });
    loadAttendance(0);
  } catch (error) {
    $("console-status").textContent = explain(error);
  }
}

async function revokeLink(personId) {
  const name = nameOf(personId);
  try {
    await call("link.revoke", { lesson_id: lessonId, person_id: personId });
    $("console-status").textContent = t("lesson.done.revoke", { name });
  } catch (error) {
    $("console-status").textContent = explain(error);
  }
}

function toggleReport() {
  state.reportOpen = !state.reportOpen;
  renderControls();
  if (state.reportOpen) {
    loadAttendance(0);
    renderReport();
    $("report-title").focus();
  } else {
    renderReport();
  }
}

async function downloadCsv() {
  const status = $("console-status");
  let response;
  try {
    response = await fetch(`/api/lessons/${lessonId}/attendance.csv`, {
      headers: { Authorization: `Bearer ${session.token}`, Accept: "text/csv" },
    });
  } catch {
    status.textContent = t("error.network");
    return;
  }
  if (response.status === 401) return signIn();
  if (!response.ok) {
    status.textContent = t("lesson.report.failed");
    return;
  }
  const url = URL.createObjectURL(await response.blob());
  const link = element("a");
  link.href = url;
  link.download = `attendance-lesson-${lessonId}.csv`;
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
  status.textContent = t("lesson.report.downloaded");
}

function retry() {
  state.problem = null;
  render();
  if (state.socket?.connected) join();
  else state.socket?.connect();
}

function asChild() {
  signIn();
}

// -- start ------------------------------------------------------------------------------

async function start() {
  state.link = takeLink();
  if (!session.token) {
    signIn();
    return;
  }
  try {
    state.profile = await api("/api/me");
  } catch (error) {
    if (error.status === 401 || error.status === 404) signIn();
    else refuse(new RoomError("offline", t("error.network")));
    return;
  }
  render();
  connect();
}

applyTexts();
renderLive();
setupMedia({
  lessonId,
  call,
  announce,
  explain,
  self: () => state.self,
  teacher: () => state.teacher,
  teacherId: () => state.lesson?.teacher_id ?? null,
  nameOf,
});
$("lang").addEventListener("click", toggleLanguage);
document.addEventListener("languagechange", () => render(true));
$("chat-form").addEventListener("submit", sendChat);
$("hand").addEventListener("click", toggleHand);
$("lock").addEventListener("click", () => toggleSwitch("locked", "lock", "unlock"));
$("lock-chat").addEventListener("click", () =>
  toggleSwitch("chat_locked", "lock_chat", "unlock_chat"),
);
$("record").addEventListener("click", () => toggleRecording());
$("mute-all").addEventListener("click", () => toggleSwitch("muted_all", "mute_all", "unmute_all"));
$("end").addEventListener("click", endLesson);
$("report-toggle").addEventListener("click", toggleReport);
$("csv").addEventListener("click", downloadCsv);
$("retry").addEventListener("click", retry);
$("as-child").addEventListener("click", asChild);
start();
