// The diary: the week of a student (their own, or each child's for a parent or a trusted
// person), live; for parents also absence and lateness notices, reporting an absence in
// advance and trusted persons; the calendar address for everyone.
import { applyTexts, currentLanguage, hasText, t, toggleLanguage } from "/static/i18n.js";
import { connectLive, renderLive } from "/static/live.js";
import { api, session } from "/static/session.js";
import { renderWeek, reloadWeek, startWeek, weekChanged } from "/static/diary-week.js";
import { renderExtras, startExtras } from "/static/diary-extras.js";

const ACK_TIMEOUT = 5000;
const MAX_DAYS = 31;

const state = {
  me: null,
  notices: [],
  loaded: false,
  error: null,
  offset: null,
  socket: null,
};

const $ = (id) => document.getElementById(id);

function signOut() {
  session.token = null;
  state.socket?.close();
  window.location.assign("/");
}

function signIn() {
  session.token = null;
  state.socket?.close();
  window.location.replace("/?next=" + encodeURIComponent("/diary"));
}

// The account was deactivated (a trusted person whose last access was revoked): say so
// rather than send them to a sign-in that would fail without a reason.
function closed() {
  session.token = null;
  state.socket?.close();
  const status = $("status");
  status.removeAttribute("data-i18n");
  status.setAttribute("role", "alert");
  status.className = "error";
  status.textContent = t("diary.access_closed");
  const again = document.createElement("a");
  again.href = "/?next=" + encodeURIComponent("/diary");
  again.textContent = t("login.submit");
  status.append(" ", again);
}

function element(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

function locale() {
  return currentLanguage() === "ru" ? "ru-RU" : "en-GB";
}

function zone() {
  return state.me?.school?.timezone;
}

function format(moment, options) {
  return new Intl.DateTimeFormat(locale(), { timeZone: zone(), ...options }).format(
    new Date(moment),
  );
}

function clock(moment) {
  return format(moment, { hour: "2-digit", minute: "2-digit" });
}

function day(moment) {
  return format(moment, { day: "numeric", month: "long" });
}

// Today's date in the school's time zone, as a date field wants it.
function todayIso() {
  return new Intl.DateTimeFormat("en-CA", {
    timeZone: zone(),
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).format(new Date());
}

function noticeText(notice) {
  const key = hasText("diary.notice." + notice.kind)
    ? "diary.notice." + notice.kind
    : "diary.notice.other";
  return t(key, {
    name: notice.student.display_name,
    subject: notice.lesson.subject,
    time: clock(notice.lesson.starts_at),
  });
}

function announce(texts) {
  const region = $("announce");
  region.textContent = "";
  window.setTimeout(() => {
    region.textContent = texts.join(" ");
  }, 50);
}

// Newest first, each notice once however it arrived.
function addNotices(incoming) {
  const known = new Set(state.notices.map((notice) => notice.id));
  const fresh = incoming.filter((notice) => {
    if (!notice?.id || known.has(notice.id)) return false;
    known.add(notice.id);
    return true;
  });
  if (fresh.length) {
    state.notices = [...state.notices, ...fresh].sort((a, b) =>
      a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0,
    );
  }
  return fresh;
}

// -- rendering --------------------------------------------------------------------------

function setStatus(text, className = "muted") {
  const status = $("status");
  status.removeAttribute("data-i18n");
  status.className = className;
  status.textContent = text;
}

function noticeItem(notice) {
  const item = element("li", `diary-notice kind-${notice.kind}`);
  item.dataset.noticeId = notice.id;
  item.append(element("p", "what", noticeText(notice)));
  const when = element("p", "muted small");
  const lessonDay = element("time", null, day(notice.lesson.starts_at));
  lessonDay.dateTime = notice.lesson.starts_at;
  const sent = element("time", null, clock(notice.created_at));
  sent.dateTime = notice.created_at;
  when.append(lessonDay, ` · ${t("diary.sent_at")} `, sent);
  item.append(when);
  return item;
}

function render() {
  applyTexts();
  renderLive();
  const { me } = state;
  document.title = `${t("diary.title")} · ${t("app.name")}`;
  if (!me) return;
  $("who").textContent = `${me.display_name} · ${t("role." + me.role)}`;
  const holder = $("children");
  holder.replaceChildren();
  renderWeek();
  renderExtras();
  if (me.role !== "parent") {
    if (me.role !== "student") setStatus(t("diary.parents_only"), "notice");
    else setStatus("");
    $("absence").hidden = true;
    $("notices-part").hidden = true;
    return;
  }
  $("notices-part").hidden = me.children.length === 0;
  if (state.error) setStatus(state.error, "error");
  else setStatus(state.loaded ? "" : t("diary.loading"));
  me.children.forEach((child, index) => {
    const section = element("section", "child");
    const headingId = `child-${index}`;
    section.setAttribute("aria-labelledby", headingId);
    const heading = element("h2", null, child.display_name);
    heading.id = headingId;
    if (child.school_class) {
      heading.append(element("span", "muted", ` · ${child.school_class.name}`));
    }
    section.append(heading);
    const own = state.notices.filter((notice) => notice.student.id === child.id);
    if (own.length === 0) {
      section.append(element("p", "muted none", t("diary.none")));
    } else {
      const list = element("ul", "diary-notices");
      list.setAttribute("aria-labelledby", headingId);
      for (const notice of own) list.append(noticeItem(notice));
      section.append(list);
    }
    holder.append(section);
  });
  if (me.children.length === 0) holder.append(element("p", "muted", t("diary.no_children")));
  renderForm();
}

function renderForm() {
  const { me } = state;
  $("absence").hidden = me.children.length === 0;
  const select = $("child");
  const chosen = select.value;
  select.replaceChildren(
    ...me.children.map((child) => {
      const option = element("option", null, child.display_name);
      option.value = String(child.id);
      return option;
    }),
  );
  if (chosen) select.value = chosen;
  const today = todayIso();
  if (!$("date-from").value) $("date-from").value = today;
  if (!$("date-to").value) $("date-to").value = today;
}

// -- loading and live notices -----------------------------------------------------------

async function loadNotices() {
  try {
    addNotices((await api("/api/notices")).notices);
    state.loaded = true;
    state.error = null;
  } catch (error) {
    if (error.status === 401) return signIn();
    state.error = error.code === "network" ? t("error.network") : t("diary.load_failed");
  }
  render();
}

function userChannel() {
  return `user:${state.me.id}`;
}

function take(frame) {
  if (!frame || frame.channel !== userChannel()) return false;
  if (state.offset !== null && frame.offset <= state.offset) return false;
  state.offset = frame.offset;
  return true;
}

function arrived(notices) {
  const fresh = addNotices(notices);
  if (fresh.length === 0) return;
  render();
  announce(fresh.map(noticeText));
}

async function attach(socket) {
  let attached;
  try {
    const payload = state.offset === null ? {} : { since: state.offset };
    const reply = await socket.timeout(ACK_TIMEOUT).emitWithAck("notices.join", payload);
    if (!reply?.ok) throw new Error(reply?.error?.code ?? "refused");
    attached = reply.data;
  } catch {
    window.setTimeout(() => socket.connected && attach(socket), 2000);
    return;
  }
  const resumed = state.offset !== null && !attached.reload;
  state.offset = Math.max(state.offset ?? 0, attached.offset);
  if (resumed) {
    arrived(attached.events.filter((item) => item.event === "notice").map((item) => item.data));
  } else if (state.me.role === "parent") {
    // A first join or a history that no longer reaches back: the list is the truth.
    await loadNotices();
  }
  await reloadWeek();
}

function connect() {
  const socket = connectLive({ onConnect: attach, onTokenRefused: signIn });
  state.socket = socket;
  if (!socket) return;
  socket.on("notice", (frame) => {
    if (take(frame)) arrived([frame.data]);
  });
  socket.on("diary.changed", (frame) => {
    if (take(frame)) weekChanged(frame.data);
  });
  socket.on("channel.reload", () => {
    state.offset = null;
    attach(socket);
  });
}

// -- reporting an absence ---------------------------------------------------------------

const FIELD_OF = {
  child_not_found: "child",
  bad_range: "date-to",
  range_too_long: "date-to",
  bad_reason: "reason",
  dates: "date-from",
};

function clearErrors() {
  $("absence-error").textContent = "";
  for (const id of ["child", "date-from", "date-to", "reason"]) {
    $(id).removeAttribute("aria-invalid");
  }
}

function fail(code, fieldId, values = {}) {
  const key = "diary.error." + code;
  $("absence-error").textContent = hasText(key) ? t(key, values) : t("error.generic", values);
  const field = fieldId ? $(fieldId) : null;
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }
}

function check(form) {
  if (!form.child) return ["child_required", "child"];
  if (!form.date_from) return ["dates", "date-from"];
  if (!form.date_to) return ["dates", "date-to"];
  if (form.date_to < form.date_from) return ["bad_range", "date-to"];
  const days = (Date.parse(form.date_to) - Date.parse(form.date_from)) / 86_400_000;
  if (days >= MAX_DAYS) return ["range_too_long", "date-to"];
  if (!form.reason) return ["bad_reason", "reason"];
  return null;
}

async function reportAbsence(event) {
  event.preventDefault();
  clearErrors();
  $("absence-done").textContent = "";
  const form = {
    child: $("child").value,
    date_from: $("date-from").value,
    date_to: $("date-to").value,
    reason: $("reason").value.trim(),
  };
  const problem = check(form);
  if (problem) {
    fail(problem[0], problem[1], { days: MAX_DAYS });
    return;
  }
  const submit = $("absence-submit");
  submit.disabled = true;
  try {
    await api("/api/absences", {
      method: "POST",
      body: {
        child_id: Number(form.child),
        date_from: form.date_from,
        date_to: form.date_to,
        reason: form.reason,
      },
    });
    const child = state.me.children.find((one) => String(one.id) === form.child);
    const dates = (iso) => format(`${iso}T12:00:00Z`, { day: "numeric", month: "long" });
    $("absence-done").textContent = t("diary.absence.done", {
      name: child?.display_name ?? "",
      from: dates(form.date_from),
      to: dates(form.date_to),
    });
    $("reason").value = "";
  } catch (error) {
    if (error.status === 401) return signIn();
    if (error.code === "network") fail("network", null);
    else if (error.code === "rate_limited") fail("rate_limited", null);
    else if (hasText("diary.error." + error.code)) fail(error.code, FIELD_OF[error.code]);
    else fail("generic", null, { message: error.message });
  } finally {
    submit.disabled = false;
  }
}

// -- start ------------------------------------------------------------------------------

async function load() {
  if (!session.token) {
    signIn();
    return;
  }
  try {
    state.me = await api("/api/me");
  } catch (error) {
    if (error.code === "account_not_found") closed();
    else if (error.status === 401 || error.status === 404) signIn();
    else setStatus(t("error.network"), "error");
    return;
  }
  render();
  if (state.me.role !== "parent" && state.me.role !== "student") return;
  await startWeek(state.me);
  await startExtras(state.me);
  if (state.me.role === "parent") await loadNotices();
  else render();
  connect();
}

applyTexts();
renderLive();
$("lang").addEventListener("click", toggleLanguage);
$("signout").addEventListener("click", signOut);
$("absence-form").addEventListener("submit", reportAbsence);
document.addEventListener("languagechange", render);
load();
