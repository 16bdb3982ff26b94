// The diary's side sections: a parent's trusted persons, and the calendar address.
import { $, element } from "/static/dom.js";
import { hasText, t } from "/static/i18n.js";
import { api } from "/static/session.js";

const extras = { me: null, trusted: [], feedUrl: null };

function childName(id) {
  return extras.me.children.find((child) => child.id === id)?.display_name ?? "";
}

export function renderExtras() {
  const { me } = extras;
  if (!me) return;
  const isParent = me.role === "parent" && me.children.length > 0;
  $("trusted").hidden = !isParent;
  $("feed").hidden = !["parent", "student"].includes(me.role);
  $("feed-url").textContent = extras.feedUrl ?? "";
  $("feed-revoke").hidden = extras.feedUrl === null;
  if (!isParent) return;
  const list = $("trusted-list");
  list.replaceChildren();
  for (const person of extras.trusted) {
    const item = element("li", "trusted-person");
    item.dataset.personId = person.id;
    const names = person.child_ids.map(childName).join(", ");
    item.append(element("span", null, `${person.display_name} (${person.username}): ${names} `));
    const revoke = element("button", "danger small-button", t("trusted.revoke"));
    revoke.type = "button";
    revoke.append(element("span", "visually-hidden", `: ${person.display_name}`));
    revoke.addEventListener("click", () => revokeTrusted(person));
    item.append(revoke);
    list.append(item);
  }
  if (extras.trusted.length === 0) list.append(element("li", "muted", t("trusted.none")));
  const select = $("trusted-child");
  const chosen = select.value;
  select.replaceChildren(
    ...me.children.map((child) => {
      const option = element("option", null, child.display_name);
      option.value = String(child.id);
      return option;
    }),
  );
  if (chosen) select.value = chosen;
}

function trustedFailed(error) {
  const key = "trusted.error." + error.code;
  $("trusted-error").textContent = hasText(key)
    ? t(key)
    : t("error.generic", { message: error.message });
}

async function addTrusted(event) {
  event.preventDefault();
  $("trusted-error").textContent = "";
  $("trusted-done").textContent = "";
  const body = {
    display_name: $("trusted-name").value.trim(),
    username: $("trusted-username").value.trim(),
    password: $("trusted-password").value,
    child_ids: [Number($("trusted-child").value)],
  };
  if (!body.display_name || !body.username || body.password.length < 10) {
    $("trusted-error").textContent = t("trusted.error.invalid_body");
    return;
  }
  try {
    const made = await api("/api/diary/trusted", { method: "POST", body });
    extras.trusted = [...extras.trusted, made];
    $("trusted-done").textContent = t("trusted.added", { name: made.display_name });
    $("trusted-form").reset();
  } catch (error) {
    trustedFailed(error);
  }
  renderExtras();
}

async function revokeTrusted(person) {
  try {
    extras.trusted = (
      await api(`/api/diary/trusted/${person.id}`, { method: "DELETE" })
    ).trusted;
    $("trusted-done").textContent = t("trusted.revoked", { name: person.display_name });
  } catch (error) {
    trustedFailed(error);
  }
  renderExtras();
  $("trusted-name").focus();
}

async function makeFeed() {
  try {
    extras.feedUrl = (await api("/api/calendar/feed", { method: "POST" })).url;
  } catch (error) {
    extras.feedUrl = null;
  }
  renderExtras();
}

async function revokeFeed() {
  try {
    await api("/api/calendar/feed", { method: "DELETE" });
  } catch {
    // Already revoked: nothing to do.
  }
  extras.feedUrl = null;
  renderExtras();
  $("feed-make").focus();
}

export async function startExtras(me) {
  extras.me = me;
  if (me.role === "parent" && me.children.length > 0) {
    try {
      extras.trusted = (await api("/api/diary/trusted")).trusted;
    } catch {
      extras.trusted = [];
    }
  }
  $("trusted-form").addEventListener("submit", addTrusted);
  $("feed-make").addEventListener("click", makeFeed);
  $("feed-revoke").addEventListener("click", revokeFeed);
  renderExtras();
}
