// The diary's week view: each readable student's lessons with join links, topics, marks,
// grades with comments, homework with library materials, recordings, and the coming tests;
// above it, the recordings of lessons the student missed. Reloads what changed when the
// server says so (diary.changed on the person's user channel).
import { $, addDays, announce, element, formatDate, formatTime } from "/static/dom.js";
import { hasText, t } from "/static/i18n.js";
import { api } from "/static/session.js";

const week = { me: null, students: [], current: null, from: null, data: null, error: null };

function zone() {
  return week.me?.school?.timezone;
}

function todayIso() {
  return new Intl.DateTimeFormat("en-CA", {
    timeZone: zone(),
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).format(new Date());
}

function mondayOf(iso) {
  const weekday = (new Date(`${iso}T12:00:00Z`).getUTCDay() + 6) % 7;
  return addDays(iso, -weekday);
}

async function openMaterial(material, holder, button) {
  if (material.kind === "link") return;
  button.disabled = true;
  try {
    if (material.kind === "text") {
      const full = await api(`/api/library/materials/${material.id}`);
      holder.replaceChildren(element("p", "material-text", full.text ?? ""));
      holder.hidden = false;
      holder.focus();
      return;
    }
    const response = await fetch(`/api/library/materials/${material.id}/file`, {
      headers: { Authorization: `Bearer ${sessionStorage.getItem("urok.token")}` },
    });
    if (!response.ok) throw new Error(String(response.status));
    const url = URL.createObjectURL(await response.blob());
    const link = element("a");
    link.href = url;
    link.download = material.title;
    document.body.append(link);
    link.click();
    link.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch {
    holder.replaceChildren(element("p", "error", t("week.material_failed")));
    holder.hidden = false;
  } finally {
    button.disabled = false;
  }
}

export function materialList(materials) {
  const list = element("ul", "materials plain");
  for (const material of materials) {
    const item = element("li", "material");
    item.dataset.materialId = material.id;
    if (material.kind === "link" && material.url) {
      const link = element("a", null, material.title);
      link.href = material.url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      item.append(link);
    } else {
      const shown = element("div", "material-body");
      shown.hidden = true;
      shown.tabIndex = -1;
      const button = element("button", "small-button", `${t("week.open")}: ${material.title}`);
      button.type = "button";
      button.addEventListener("click", () => openMaterial(material, shown, button));
      item.append(button, shown);
    }
    list.append(item);
  }
  return list;
}

function minutes(seconds) {
  return Math.max(1, Math.round(seconds / 60));
}

function recordingLink(recording, subject, className = "recording-link") {
  const link = element("a", className, t("week.recording", { minutes: minutes(recording.duration) }));
  link.href = recording.page;
  link.dataset.recordingId = recording.id;
  link.append(element("span", "visually-hidden", `: ${subject}`));
  return link;
}

function renderMissed(data) {
  const section = $("missed");
  const list = $("missed-list");
  list.replaceChildren();
  const missed = data?.missed ?? [];
  section.hidden = missed.length === 0;
  if (missed.length === 0) return;
  const own = data.student.id === week.me?.id;
  $("missed-title").textContent = own
    ? t("missed.title")
    : t("missed.title_child", { name: data.student.display_name });
  for (const lesson of missed) {
    const item = element("li", "missed-lesson");
    item.dataset.lessonId = lesson.lesson_id;
    const when = `${formatDate(lesson.date, { weekday: "long", day: "numeric", month: "long" })}, ${formatTime(lesson.starts_at, zone())}`;
    item.append(
      element("p", null, t("missed.lesson", { subject: lesson.subject, when, mark: t("mark." + lesson.mark) })),
    );
    for (const recording of lesson.recordings) {
      item.append(recordingLink(recording, lesson.subject, "button-link recording-link"));
    }
    list.append(item);
  }
}

function lessonItem(lesson) {
  const item = element("li", "diary-lesson");
  item.dataset.lessonId = lesson.id;
  const head = element("p", "lesson-head");
  const time = element("time", "time", formatTime(lesson.starts_at, zone()));
  time.dateTime = lesson.starts_at;
  head.append(time, " ", element("strong", "subject", lesson.subject));
  head.append(element("span", "muted", ` · ${lesson.teacher}`));
  if (lesson.online) head.append(" ", element("span", "badge online", t("today.online")));
  item.append(head);
  if (lesson.join_url) {
    const link = element("a", "button-link join", t("today.join"));
    link.href = lesson.join_url;
    link.append(element("span", "visually-hidden", `: ${lesson.subject}`));
    item.append(link);
  }
  if (lesson.topic) item.append(element("p", "topic", `${t("week.topic")}: ${lesson.topic}`));
  if (lesson.test_title) {
    item.append(element("p", "test", `${t("week.test")}: ${lesson.test_title}`));
  }
  if (lesson.mark) {
    const source = hasText("source." + lesson.mark_source) ? t("source." + lesson.mark_source) : "";
    item.append(element("p", `mark mark-${lesson.mark}`, `${t("mark." + lesson.mark)} (${source})`));
  }
  if (lesson.grades.length) {
    const list = element("ul", "grades plain");
    for (const grade of lesson.grades) {
      const text = t(grade.weight > 1 ? "week.grade_weighted" : "week.grade", {
        value: grade.value,
        weight: grade.weight,
      });
      const entry = element("li", "grade", text);
      entry.dataset.gradeId = grade.id;
      if (grade.comment) entry.append(element("span", "comment", ` — ${grade.comment}`));
      list.append(entry);
    }
    item.append(list);
  }
  if (lesson.materials.length) item.append(materialList(lesson.materials));
  for (const recording of lesson.recordings ?? []) {
    const line = element("p", "recording");
    line.append(recordingLink(recording, lesson.subject));
    item.append(line);
  }
  if (lesson.homework) {
    const work = element("div", "homework");
    work.append(element("p", null, `${t("week.homework")}: ${lesson.homework.text}`));
    if (lesson.homework.due_date) {
      work.append(element("p", "muted", `${t("week.due")} ${formatDate(lesson.homework.due_date)}`));
    }
    if (lesson.homework.materials.length) work.append(materialList(lesson.homework.materials));
    item.append(work);
  }
  return item;
}

function renderStudents() {
  const holder = $("week-students");
  holder.replaceChildren();
  if (week.students.length === 1 && week.students[0].id !== week.me?.id) {
    // A parent of one child or a trusted person: say whose diary this is.
    holder.append(element("p", "week-student", week.students[0].display_name));
  }
  if (week.students.length < 2) return;
  for (const student of week.students) {
    const button = element("button", "toggle", student.display_name);
    button.type = "button";
    button.dataset.studentId = student.id;
    button.setAttribute("aria-pressed", String(student.id === week.current));
    button.addEventListener("click", () => {
      week.current = student.id;
      load();
    });
    holder.append(button);
  }
}

export function renderWeek() {
  $("week").hidden = week.students.length === 0;
  renderStudents();
  const days = $("week-days");
  days.replaceChildren();
  const tests = $("tests-list");
  tests.replaceChildren();
  if (week.error) {
    days.append(element("p", "error", week.error));
    return;
  }
  const data = week.data;
  renderMissed(data);
  if (!data) return;
  const name = data.student.display_name;
  $("week-range").textContent = `${name}: ${formatDate(data.date_from, { day: "numeric", month: "long" })} – ${formatDate(data.date_to, { day: "numeric", month: "long" })}`;
  for (let offset = 0; offset < 7; offset += 1) {
    const iso = addDays(data.date_from, offset);
    const own = data.lessons.filter((lesson) => lesson.date === iso);
    if (own.length === 0) continue;
    const section = element("section", "week-day");
    const headingId = `day-${iso}`;
    section.setAttribute("aria-labelledby", headingId);
    const heading = element("h3", null, formatDate(iso, { weekday: "long", day: "numeric", month: "long" }));
    heading.id = headingId;
    const list = element("ol", "diary-lessons plain");
    for (const lesson of own) list.append(lessonItem(lesson));
    section.append(heading, list);
    days.append(section);
  }
  if (data.lessons.length === 0) days.append(element("p", "muted", t("week.none")));
  for (const test of data.upcoming_tests) {
    tests.append(element("li", null, `${formatDate(test.date)} · ${test.subject}: ${test.title}`));
  }
  if (data.upcoming_tests.length === 0) tests.append(element("li", "muted", t("week.no_tests")));
}

async function load() {
  if (week.current === null) return;
  try {
    week.data = await api(`/api/diary/week?student_id=${week.current}&from=${week.from}`);
    week.error = null;
  } catch (error) {
    week.error = error.code === "network" ? t("error.network") : t("week.load_failed");
  }
  renderWeek();
}

/** Starts the week view for the signed-in person; resolves once the first week is shown. */
export async function startWeek(me) {
  week.me = me;
  week.from = mondayOf(todayIso());
  try {
    week.students = (await api("/api/diary/students")).students;
  } catch {
    week.students = [];
  }
  week.current = week.students[0]?.id ?? null;
  $("week-prev").addEventListener("click", () => {
    week.from = addDays(week.from, -7);
    load();
  });
  $("week-next").addEventListener("click", () => {
    week.from = addDays(week.from, 7);
    load();
  });
  $("week-now").addEventListener("click", () => {
    week.from = mondayOf(todayIso());
    load();
  });
  await load();
}

/** The server says these students' diaries changed: reload if one is shown. */
export async function weekChanged(change) {
  if (!change || !change.student_ids?.includes(week.current)) return;
  await load();
  const key = "week.changed." + change.what;
  announce($("week-announce"), hasText(key) ? t(key) : t("week.changed.other"));
}

/** Reload after a reconnect (something may have changed meanwhile). */
export function reloadWeek() {
  return load();
}
