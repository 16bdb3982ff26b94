import { applyTexts, currentLanguage, t, toggleLanguage } from "/static/i18n.js";
import { api, session } from "/static/session.js";

const state = {
  me: null,
  lessons: [],
  panel: false,
  error: null,
  live: "connecting",
  socket: null,
};

function signOut() {
  session.token = null;
  state.socket?.close();
  window.location.assign("/");
}

function locale() {
  return currentLanguage() === "ru" ? "ru-RU" : "en-GB";
}

function timeRange(lesson, zone) {
  const format = new Intl.DateTimeFormat(locale(), {
    hour: "2-digit",
    minute: "2-digit",
    timeZone: zone,
  });
  return `${format.format(new Date(lesson.starts_at))}–${format.format(new Date(lesson.ends_at))}`;
}

function element(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

function lessonItem(lesson, zone, showTeacher) {
  const item = element("li", "lesson");
  const time = element("time", "time", timeRange(lesson, zone));
  time.dateTime = lesson.starts_at;
  const body = element("div", "body");
  body.append(element("strong", "subject", lesson.subject));
  const details = element("span", "details");
  const parts = [`${t("today.class")}: ${lesson.school_class.name}`];
  if (showTeacher) parts.push(`${t("today.teacher")}: ${lesson.teacher}`);
  details.append(parts.join(" · "));
  body.append(details);
  const badge = element(
    "span",
    lesson.online ? "badge online" : "badge",
    lesson.online ? t("today.online") : t("today.inclass"),
  );
  item.append(time, body, badge);
  return item;
}

function lessonList(lessons, zone, labelledBy) {
  if (lessons.length === 0) return element("p", "muted", t("today.none"));
  const list = element("ol", "lessons");
  if (labelledBy) list.setAttribute("aria-labelledby", labelledBy);
  const showTeacher = state.me.role !== "teacher";
  for (const lesson of lessons) list.append(lessonItem(lesson, zone, showTeacher));
  return list;
}

function setStatus(text, className = "muted") {
  const status = document.getElementById("status");
  status.removeAttribute("data-i18n");
  status.className = className;
  status.textContent = text;
}

function render() {
  applyTexts();
  const { me } = state;
  if (!me) return;
  const zone = me.school.timezone;
  document.title = `${t("today.title")} · ${t("app.name")}`;
  document.getElementById("who").textContent = me.display_name;
  const role = t("role." + me.role);
  const place = me.school_class ? `${role}, ${me.school_class.name}` : role;
  document.getElementById("where").textContent = `${place} · ${me.school.name}`;
  const today = new Intl.DateTimeFormat(locale(), {
    weekday: "long",
    day: "numeric",
    month: "long",
    timeZone: zone,
  }).format(new Date());
  document.getElementById("date").textContent = `${t("today.lessons")}: ${today}`;
  const days = document.getElementById("days");
  days.replaceChildren();
  if (state.panel) {
    setStatus(t("today.panel"), "notice");
    renderLive();
    return;
  }
  setStatus(state.error ?? "", state.error ? "error" : "muted");
  if (me.role === "parent") {
    me.children.forEach((child, index) => {
      const section = element("section", "child");
      const headingId = `child-${index}`;
      const heading = element("h3", null, child.display_name);
      heading.id = headingId;
      if (child.school_class) {
        heading.append(element("span", "muted", ` · ${child.school_class.name}`));
      }
      section.append(heading);
      const own = state.lessons.filter((lesson) => lesson.child?.id === child.id);
      section.append(lessonList(own, zone, headingId));
      days.append(section);
    });
  } else {
    days.append(lessonList(state.lessons, zone));
  }
  renderLive();
}

function renderLive() {
  const text = document.getElementById("live-text");
  text.dataset.state = state.live;
  text.textContent = t("live." + state.live);
  document.getElementById("live").dataset.state = state.live;
}

function setLive(live) {
  state.live = live;
  renderLive();
}

function connectLive() {
  if (typeof io !== "function") {
    setLive("offline");
    return;
  }
  const socket = io({ transports: ["websocket"], auth: { token: session.token } });
  state.socket = socket;
  socket.on("connect", () => {
    setLive("connected");
    socket.emit("notices.join", {}, () => {});
  });
  socket.on("disconnect", () => setLive("reconnecting"));
  socket.io.on("reconnect_attempt", () => setLive("reconnecting"));
  socket.on("connect_error", (error) => {
    if (String(error.data?.code ?? "").startsWith("token_")) {
      signOut();
      return;
    }
    setLive(socket.active ? "reconnecting" : "offline");
  });
}

async function load() {
  if (!session.token) {
    window.location.replace("/");
    return;
  }
  try {
    state.me = await api("/api/me");
  } catch (error) {
    if (error.status === 401 || error.status === 404) signOut();
    else setStatus(t("error.network"), "error");
    return;
  }
  try {
    state.lessons = (await api("/api/timetable")).lessons;
  } catch (error) {
    if (error.status === 401) return signOut();
    if (error.code === "no_timetable") state.panel = true;
    else state.error = t("error.generic", { message: error.message });
  }
  render();
  connectLive();
}

applyTexts();
renderLive();
document.getElementById("lang").addEventListener("click", toggleLanguage);
document.getElementById("signout").addEventListener("click", signOut);
document.addEventListener("languagechange", render);
load();
