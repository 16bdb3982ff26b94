// Small helpers of the journal, diary week and library pages: elements and dates.
import { currentLanguage } from "/static/i18n.js";

export const $ = (id) => document.getElementById(id);

export function element(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

export function locale() {
  return currentLanguage() === "ru" ? "ru-RU" : "en-GB";
}

export function formatDate(iso, options = { weekday: "short", day: "numeric", month: "short" }) {
  return new Intl.DateTimeFormat(locale(), { timeZone: "UTC", ...options }).format(
    new Date(`${iso}T12:00:00Z`),
  );
}

export function formatTime(moment, zone) {
  return new Intl.DateTimeFormat(locale(), {
    hour: "2-digit",
    minute: "2-digit",
    timeZone: zone,
  }).format(new Date(moment));
}

export function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

export function addDays(iso, days) {
  const day = new Date(`${iso}T12:00:00Z`);
  day.setUTCDate(day.getUTCDate() + days);
  return isoDay(day);
}

// Says a text to screen readers through a live region.
export function announce(region, text) {
  region.textContent = "";
  window.setTimeout(() => {
    region.textContent = text;
  }, 50);
}
