import { applyTexts, currentLanguage, hasText, t, toggleLanguage } from "/static/i18n.js";
import { connectLive, renderLive } from "/static/live.js";
import { api, session } from "/static/session.js";

const state = {
  me: null,
  lessons: [],
  panel: false,
  error: null,
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

function joinAction(lesson, zone) {
  if (!lesson.online || !lesson.join_url) return null;
  const when = `: ${lesson.subject}, ${timeRange(lesson, zone)}`;
  if (state.me.role === "teacher" || state.me.role === "admin") {
    const button = element("button", "action start", t("today.start"));
    button.type = "button";
    button.append(element("span", "visually-hidden", when));
    button.addEventListener("click", () => startLesson(lesson, button));
    return button;
  }
  const link = element("a", "action button-link join");
  link.href = lesson.join_url;
  if (lesson.child) {
    link.append(t("today.join_child", { name: lesson.child.display_name }));
  } else {
    link.append(t("today.join"));
  }
  link.append(element("span", "visually-hidden", when));
  return link;
}

async function startLesson(lesson, button) {
  button.disabled = true;
  setStatus(t("today.starting"));
  try {
    const opened = await api(`/api/lessons/${lesson.id}/open`, { method: "POST" });
    window.location.assign(opened.url);
  } catch (error) {
    if (error.status === 401) return signOut();
    button.disabled = false;
    const key = "today.start_error." + error.code;
    setStatus(hasText(key) ? t(key) : t("error.generic", { message: error.message }), "error");
  }
}

function lessonItem(lesson, zone, showTeacher) {
  const item = element("li", "lesson");
  item.dataset.lessonId = lesson.id;
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
  const action = joinAction(lesson, zone);
  if (action) {
    item.classList.add("with-action");
    item.append(action);
  }
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
  document.getElementById("places").hidden = me.role === "panel";
  document.getElementById("to-diary").hidden = me.role !== "parent";
  document.getElementById("to-week").hidden = me.role !== "student";
  document.getElementById("to-journal").hidden = !["teacher", "admin"].includes(me.role);
  document.getElementById("to-library").hidden = me.role === "panel";
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

function connect() {
  state.socket = connectLive({
    onConnect: (socket) => socket.emit("notices.join", {}, () => {}),
    onTokenRefused: signOut,
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
    if (error.code === "no_timetable" || error.code === "panel_board_only") {
      window.location.replace("/panel");
      return;
    }
    else state.error = t("error.generic", { message: error.message });
  }
  render();
  connect();
}

applyTexts();
renderLive();
document.getElementById("lang").addEventListener("click", toggleLanguage);
document.getElementById("signout").addEventListener("click", signOut);
document.addEventListener("languagechange", render);
load();
