import { applyTexts, t, toggleLanguage } from "/static/i18n.js";
import { api, session } from "/static/session.js";

const form = document.getElementById("login");
const errorBox = document.getElementById("error");
const submit = document.getElementById("submit");

// Where to go after signing in: a page of this site only (never "//host" or "/\\host").
function nextPage(search = window.location.search) {
  const wanted = new URLSearchParams(search).get("next");
  if (!wanted || !wanted.startsWith("/") || wanted.startsWith("//") || wanted.startsWith("/\\")) {
    return "/today";
  }
  let url;
  try {
    url = new URL(wanted, window.location.origin);
  } catch {
    return "/today";
  }
  if (url.origin !== window.location.origin) return "/today";
  return url.pathname + url.search + url.hash;
}

function explain(error) {
  if (error.code === "network") return t("error.network");
  if (error.code === "rate_limited") {
    return t("error.rate_limited", { seconds: Math.max(1, error.retryAfter || 1) });
  }
  if (error.code === "bad_credentials" || error.code === "invalid_body") {
    return t("error." + error.code);
  }
  return t("error.generic", { message: error.message });
}

async function signIn(event) {
  event.preventDefault();
  errorBox.textContent = "";
  const username = form.username.value.trim();
  const password = form.password.value;
  if (!username || !password) {
    errorBox.textContent = t("error.invalid_body");
    (username ? form.password : form.username).focus();
    return;
  }
  submit.disabled = true;
  submit.textContent = t("login.busy");
  try {
    const reply = await api("/api/login", { method: "POST", body: { username, password } });
    session.token = reply.token;
    window.location.assign(nextPage());
  } catch (error) {
    errorBox.textContent = explain(error);
    form.password.select();
    form.password.focus();
  } finally {
    submit.disabled = false;
    submit.textContent = t("login.submit");
  }
}

applyTexts();
document.getElementById("lang").addEventListener("click", toggleLanguage);
form.addEventListener("submit", signIn);
form.username.focus();
