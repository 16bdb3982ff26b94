// The teacher's journal: a class's lessons of one subject × its students, and the forms
// that set marks, grades (and correct them), the topic, the test and the homework.
import { $, announce, element, formatDate } from "/static/dom.js";
import { applyTexts, hasText, t, toggleLanguage } from "/static/i18n.js";
import { api, session } from "/static/session.js";

const state = { me: null, journals: [], grid: null, materials: [], correcting: null };

function signIn() {
  session.token = null;
  window.location.replace("/?next=" + encodeURIComponent("/journal"));
}

function setStatus(text, className = "muted") {
  const status = $("status");
  status.removeAttribute("data-i18n");
  status.className = className;
  status.textContent = text;
}

function problem(error) {
  if (error.status === 401) return signIn();
  const key = "journal.error." + error.code;
  $("edit-error").textContent = hasText(key)
    ? t(key)
    : t("error.generic", { message: error.message });
}

function done(text) {
  $("edit-error").textContent = "";
  $("edit-done").textContent = text;
}

function studentName(id) {
  return state.grid.students.find((one) => one.id === id)?.display_name ?? "";
}

// -- the grid -----------------------------------------------------------------------------

function gradeButton(grade) {
  const button = element("button", "grade small-button", String(grade.value));
  button.type = "button";
  button.dataset.gradeId = grade.id;
  const about = t("journal.grade_label", {
    value: grade.value,
    weight: grade.weight,
    comment: grade.comment || "—",
  });
  button.setAttribute("aria-label", about);
  button.title = about;
  button.addEventListener("click", () => startCorrection(grade));
  return button;
}

function recordingLink(lesson, recording) {
  const link = element("a", "recording-link", t("journal.recording_short"));
  link.href = recording.page;
  link.dataset.recordingId = recording.id;
  const minutes = Math.max(1, Math.round(recording.duration / 60));
  const about = t("journal.recording", { date: formatDate(lesson.date), minutes });
  link.setAttribute("aria-label", about);
  link.title = about;
  return link;
}

function renderGrid() {
  const holder = $("grid");
  holder.replaceChildren();
  const { grid } = state;
  if (!grid) return;
  if (grid.lessons.length === 0) {
    holder.append(element("p", "muted", t("journal.no_lessons")));
    return;
  }
  const table = element("table", "journal-grid");
  const caption = element(
    "caption",
    "visually-hidden",
    `${grid.school_class.name} · ${grid.subject.name}`,
  );
  const head = element("tr");
  const corner = element("th", null, t("journal.student"));
  corner.scope = "col";
  head.append(corner);
  for (const lesson of grid.lessons) {
    const cell = element("th", null, formatDate(lesson.date));
    cell.scope = "col";
    cell.dataset.lessonId = lesson.id;
    if (lesson.topic) cell.title = lesson.topic;
    if (lesson.test_title) cell.append(element("span", "test-flag", ` · ${t("journal.test_short")}`));
    for (const recording of lesson.recordings ?? []) cell.append(recordingLink(lesson, recording));
    head.append(cell);
  }
  const thead = element("thead");
  thead.append(head);
  const body = element("tbody");
  for (const student of grid.students) {
    const row = element("tr");
    const name = element("th", null, student.display_name);
    name.scope = "row";
    row.append(name);
    for (const lesson of grid.lessons) {
      const cell = element("td");
      cell.dataset.lessonId = lesson.id;
      cell.dataset.studentId = student.id;
      const mark = grid.marks.find((m) => m.lesson_id === lesson.id && m.student_id === student.id);
      if (mark) {
        const abbr = element("abbr", `mark mark-${mark.mark}`, t("mark.short." + mark.mark));
        abbr.title = `${t("mark." + mark.mark)} (${t("source." + mark.source)})`;
        cell.append(abbr, " ");
      }
      for (const grade of grid.grades) {
        if (grade.lesson_id === lesson.id && grade.student_id === student.id && !grade.cancelled) {
          cell.append(gradeButton(grade));
        }
      }
      row.append(cell);
    }
    body.append(row);
  }
  table.append(caption, thead, body);
  holder.append(table);
}

// -- the forms ----------------------------------------------------------------------------

function chosenLesson() {
  return state.grid?.lessons.find((lesson) => String(lesson.id) === $("lesson").value) ?? null;
}

function fillSelect(select, items, label) {
  const chosen = select.value;
  select.replaceChildren(
    ...items.map((item) => {
      const option = element("option", null, label(item));
      option.value = String(item.id);
      return option;
    }),
  );
  if (chosen && items.some((item) => String(item.id) === chosen)) select.value = chosen;
}

function renderForms() {
  const { grid } = state;
  $("edit").hidden = !grid || grid.lessons.length === 0;
  if (!grid) return;
  const hadLesson = $("lesson").value;
  fillSelect($("lesson"), grid.lessons, (lesson) => {
    const topic = lesson.topic ? ` — ${lesson.topic}` : "";
    return `${formatDate(lesson.date)}${topic}`;
  });
  if (!hadLesson) {
    // The latest lesson that has begun, else the first to come.
    const begun = grid.lessons.filter((lesson) => new Date(lesson.starts_at) <= new Date());
    const lesson = begun.at(-1) ?? grid.lessons[0];
    $("lesson").value = String(lesson.id);
  }
  fillSelect($("grade-student"), grid.students, (student) => student.display_name);
  fillSelect($("mark-student"), grid.students, (student) => student.display_name);
  showLesson();
}

function showLesson() {
  const lesson = chosenLesson();
  if (!lesson) return;
  $("topic").value = lesson.topic ?? "";
  $("test-title").value = lesson.test_title ?? "";
  $("homework-text").value = lesson.homework?.text ?? "";
  $("homework-due").value = lesson.homework?.due_date ?? "";
  const attached = new Set((lesson.homework?.materials ?? []).map((m) => m.id));
  const box = $("materials");
  box.replaceChildren();
  if (state.materials.length === 0) {
    box.append(element("p", "muted", t("journal.no_materials")));
  }
  for (const material of state.materials) {
    const id = `material-${material.id}`;
    const row = element("div", "check");
    const input = element("input");
    input.type = "checkbox";
    input.id = id;
    input.value = String(material.id);
    input.checked = attached.has(material.id);
    const label = element("label", null, material.title);
    label.htmlFor = id;
    row.append(input, label);
    box.append(row);
  }
}

function startCorrection(grade) {
  state.correcting = grade;
  $("lesson").value = String(grade.lesson_id);
  showLesson();
  $("grade-student").value = String(grade.student_id);
  $("grade-student").disabled = true;
  $("grade-value").value = String(grade.value);
  $("grade-weight").value = String(grade.weight);
  $("grade-comment").value = grade.comment;
  $("correction").hidden = false;
  $("grade-cancel").hidden = false;
  $("correction-text").textContent = t("journal.correcting", {
    name: studentName(grade.student_id),
    version: grade.version,
  });
  $("grade-submit").textContent = t("journal.correct");
  $("grade-value").focus();
}

function endCorrection() {
  state.correcting = null;
  $("grade-student").disabled = false;
  $("correction").hidden = true;
  $("grade-cancel").hidden = true;
  $("grade-reason").value = "";
  $("grade-submit").textContent = t("journal.give");
}

async function submit(event, work) {
  event.preventDefault();
  $("edit-done").textContent = "";
  const lesson = chosenLesson();
  if (!lesson) return;
  const button = event.target.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    done(await work(lesson));
    await loadGrid();
  } catch (error) {
    problem(error);
  } finally {
    button.disabled = false;
  }
}

async function saveGrade(lesson) {
  const weight = Number($("grade-weight").value || 1);
  const body = {
    value: Number($("grade-value").value),
    weight,
    comment: $("grade-comment").value.trim(),
  };
  const name = studentName(Number($("grade-student").value));
  if (state.correcting) {
    const grade = state.correcting;
    await api(`/api/journal/grades/${grade.id}`, {
      method: "PATCH",
      body: { ...body, expected_version: grade.version, reason: $("grade-reason").value.trim() },
    });
    endCorrection();
    return t("journal.corrected", { name, value: body.value });
  }
  await api(`/api/journal/lessons/${lesson.id}/grades`, {
    method: "POST",
    body: { ...body, student_id: Number($("grade-student").value) },
  });
  $("grade-comment").value = "";
  return t("journal.given", { name, value: body.value });
}

async function saveMark(lesson) {
  const student = Number($("mark-student").value);
  await api(`/api/journal/lessons/${lesson.id}/attendance/${student}`, {
    method: "PUT",
    body: { mark: $("mark").value },
  });
  return t("journal.marked", { name: studentName(student) });
}

async function saveNote(lesson) {
  await api(`/api/journal/lessons/${lesson.id}/note`, {
    method: "PUT",
    body: { topic: $("topic").value.trim(), test_title: $("test-title").value.trim() || null },
  });
  return t("journal.note_saved");
}

async function saveHomework(lesson) {
  const text = $("homework-text").value.trim();
  if (!text) {
    $("homework-text").setAttribute("aria-invalid", "true");
    $("homework-text").focus();
    throw { code: "empty_homework", message: "" };
  }
  $("homework-text").removeAttribute("aria-invalid");
  const ids = [...$("materials").querySelectorAll("input:checked")].map((box) => Number(box.value));
  await api(`/api/journal/lessons/${lesson.id}/homework`, {
    method: "PUT",
    body: { text, due_date: $("homework-due").value || null, material_ids: ids },
  });
  return t("journal.homework_saved");
}

// -- loading ------------------------------------------------------------------------------

async function loadGrid() {
  const chosen = state.journals[Number($("journal").value)];
  if (!chosen) return;
  try {
    state.grid = await api(
      `/api/journal/grid?class_id=${chosen.school_class.id}&subject_id=${chosen.subject.id}`,
    );
    setStatus("");
  } catch (error) {
    if (error.status === 401) return signIn();
    setStatus(t("error.generic", { message: error.message }), "error");
  }
  renderGrid();
  renderForms();
}

function render() {
  applyTexts();
  document.title = `${t("journal.title")} · ${t("app.name")}`;
  const select = $("journal");
  const chosen = select.value;
  select.replaceChildren(
    ...state.journals.map((one, index) => {
      const option = element("option", null, `${one.school_class.name} · ${one.subject.name}`);
      option.value = String(index);
      return option;
    }),
  );
  if (chosen) select.value = chosen;
  renderGrid();
  renderForms();
  if (state.correcting) startCorrection(state.correcting);
}

async function load() {
  if (!session.token) return signIn();
  try {
    state.me = await api("/api/me");
    state.journals = (await api("/api/journal/journals")).journals;
  } catch (error) {
    if (error.status === 401 || error.status === 404) return signIn();
    setStatus(t(error.status === 403 ? "journal.teachers_only" : "error.network"), "notice");
    $("pick").hidden = true;
    $("edit").hidden = true;
    return;
  }
  try {
    state.materials = (await api("/api/library/materials?mine=true&limit=100")).materials;
  } catch {
    state.materials = [];
  }
  render();
  if (state.journals.length === 0) {
    setStatus(t("journal.none"));
    return;
  }
  await loadGrid();
  announce($("announce"), "");
}

applyTexts();
$("lang").addEventListener("click", toggleLanguage);
$("signout").addEventListener("click", () => {
  session.token = null;
  window.location.assign("/");
});
$("journal").addEventListener("change", loadGrid);
$("lesson").addEventListener("change", showLesson);
$("grade-form").addEventListener("submit", (event) => submit(event, saveGrade));
$("mark-form").addEventListener("submit", (event) => submit(event, saveMark));
$("note-form").addEventListener("submit", (event) => submit(event, saveNote));
$("homework-form").addEventListener("submit", (event) => submit(event, saveHomework));
$("grade-cancel").addEventListener("click", endCorrection);
document.addEventListener("languagechange", render);
load();
