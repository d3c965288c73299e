// The studio's words (from the page, in the reader's language) and formatting.
import { pageData } from "/static/common/dom.js";

export const S = pageData("speech-strings") || {};

// fmt("Part %(done)s of %(total)s", {done: 3, total: 7}) -> "Part 3 of 7"
export function fmt(template, values = {}) {
  return String(template || "")
    .replace(/%\((\w+)\)s/g, (_, key) => (key in values ? String(values[key]) : ""))
    .replace(/%%/g, "%");
}

export function formatDuration(ms) {
  if (ms == null) return "";
  const seconds = Math.round(ms / 100) / 10;
  if (seconds < 60) return fmt(S.seconds, { s: seconds.toFixed(1) });
  const whole = Math.round(seconds);
  return fmt(S.minutes, { m: Math.floor(whole / 60), s: whole % 60 });
}

export function formatBytes(bytes) {
  if (bytes == null) return "";
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024))} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export const numberFormat = new Intl.NumberFormat(document.documentElement.lang || undefined);
