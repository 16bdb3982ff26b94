// A teacher confirms the code a classroom panel shows: the panel shows their lesson.
import { applyTexts, t, toggleLanguage } from "/static/i18n.js";
import { api, session } from "/static/session.js";

const code = window.location.pathname.split("/")[2];
const $ = (id) => document.getElementById(id);

async function confirmPairing() {
  const result = $("pair-result");
  const button = $("pair-confirm");
  button.disabled = true;
  result.textContent = t("pair.busy");
  try {
    const paired = await api("/api/panel/pair", { method: "POST", body: { code } });
    result.textContent = t("pair.done", {
      subject: paired.lesson.subject,
      class: paired.lesson.class_name,
    });
    result.dataset.state = "paired";
  } catch (error) {
    if (error.status === 401) return signIn();
    const key = "pair.error." + error.code;
    result.textContent = t(key) === key ? t("error.generic", { message: error.message }) : t(key);
    result.dataset.state = "failed";
    button.disabled = false;
  }
}

function signIn() {
  session.token = null;
  window.location.replace("/?next=" + encodeURIComponent(window.location.pathname));
}

applyTexts();
$("lang").addEventListener("click", toggleLanguage);
$("pair-confirm").addEventListener("click", confirmPairing);
if (!session.token) signIn();
