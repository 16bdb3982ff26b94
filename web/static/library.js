// The library: search published materials (and one's own drafts), add materials (teachers),
// publish drafts (the school's moderator, the admin).
import { $, element } from "/static/dom.js";
import { materialList } from "/static/diary-week.js";
import { applyTexts, hasText, t, toggleLanguage } from "/static/i18n.js";
import { api, session } from "/static/session.js";

const PAGE = 20;
const MAX_FILE = 5 * 1024 * 1024;
const state = { me: null, results: [], next: null, query: "" };

function signIn() {
  session.token = null;
  window.location.replace("/?next=" + encodeURIComponent("/library"));
}

function setStatus(text, className = "muted") {
  $("status").className = className;
  $("status").textContent = text;
}

function resultItem(material) {
  const item = element("li", "card library-item");
  item.dataset.materialId = material.id;
  const heading = element("h3", null, material.title);
  const facts = [material.subject, t("library.grade_n", { grade: material.grade_level })];
  if (material.topic) facts.push(material.topic);
  facts.push(t("library.state." + material.state));
  item.append(heading, element("p", "muted", facts.join(" · ")));
  if (material.kind !== "file" || material.size !== null) {
    item.append(materialList([material]));
  }
  if (state.me.role === "admin" && material.state === "draft") {
    const publish = element("button", "small-button", t("library.publish"));
    publish.type = "button";
    publish.append(element("span", "visually-hidden", `: ${material.title}`));
    publish.addEventListener("click", async () => {
      try {
        const done = await api(`/api/library/materials/${material.id}/publish`, { method: "POST" });
        state.results = state.results.map((one) => (one.id === done.id ? done : one));
        render();
      } catch (error) {
        setStatus(t("error.generic", { message: error.message }), "error");
      }
    });
    item.append(publish);
  }
  return item;
}

function render() {
  applyTexts();
  document.title = `${t("library.title")} · ${t("app.name")}`;
  if (!state.me) return;
  $("add").hidden = !["teacher", "admin"].includes(state.me.role);
  const list = $("results");
  list.replaceChildren(...state.results.map(resultItem));
  $("results-count").textContent =
    state.results.length === 0 ? t("library.nothing") : t("library.shown", { count: state.results.length });
  $("more").hidden = state.next === null;
  showKindFields();
}

async function search(offset = 0) {
  const params = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
  if ($("q").value.trim()) params.set("q", $("q").value.trim());
  if ($("subject").value.trim()) params.set("subject", $("subject").value.trim());
  if ($("grade-level").value) params.set("grade_level", $("grade-level").value);
  try {
    const page = await api(`/api/library/materials?${params}`);
    state.results = offset === 0 ? page.materials : [...state.results, ...page.materials];
    state.next = page.next_offset ?? null;
    setStatus("");
  } catch (error) {
    if (error.status === 401) return signIn();
    setStatus(
      error.status === 403 ? t("library.closed") : t("error.generic", { message: error.message }),
      "error",
    );
  }
  render();
}

function showKindFields() {
  const kind = $("kind").value;
  $("field-url").hidden = kind !== "link";
  $("field-text").hidden = kind !== "text";
  $("field-file").hidden = kind !== "file";
}

async function add(event) {
  event.preventDefault();
  $("add-error").textContent = "";
  $("add-done").textContent = "";
  const kind = $("kind").value;
  const body = {
    kind,
    title: $("title").value.trim(),
    subject: $("add-subject").value.trim(),
    grade_level: Number($("add-grade").value),
    topic: $("topic").value.trim(),
  };
  if (kind === "link") body.url = $("url").value.trim();
  if (kind === "text") body.text = $("text").value;
  const file = $("file").files?.[0];
  if (kind === "file" && (!file || file.size > MAX_FILE)) {
    $("add-error").textContent = t("library.error.file");
    $("file").focus();
    return;
  }
  try {
    let made = await api("/api/library/materials", { method: "POST", body });
    if (kind === "file") {
      const response = await fetch(
        `/api/library/materials/${made.id}/file?file_name=${encodeURIComponent(file.name)}`,
        {
          method: "PUT",
          headers: { Authorization: `Bearer ${session.token}`, "Content-Type": file.type },
          body: file,
        },
      );
      const reply = await response.json();
      if (!response.ok) throw { code: reply.error?.code, message: reply.error?.message };
      made = reply;
    }
    state.results = [made, ...state.results];
    $("add-done").textContent = t("library.added", { title: made.title });
    $("add-form").reset();
  } catch (error) {
    const key = "library.error." + error.code;
    $("add-error").textContent = hasText(key)
      ? t(key)
      : t("error.generic", { message: error.message ?? "" });
  }
  render();
}

async function load() {
  if (!session.token) return signIn();
  try {
    state.me = await api("/api/me");
  } catch (error) {
    if (error.status === 401 || error.status === 404) return signIn();
    setStatus(t("error.network"), "error");
    return;
  }
  await search();
}

applyTexts();
$("lang").addEventListener("click", toggleLanguage);
$("signout").addEventListener("click", () => {
  session.token = null;
  window.location.assign("/");
});
$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  search();
});
$("more").addEventListener("click", () => search(state.next ?? 0));
$("kind").addEventListener("change", showKindFields);
$("add-form").addEventListener("submit", add);
document.addEventListener("languagechange", render);
load();
