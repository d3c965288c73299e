// The conversation list's order and its day groups, in the reader's own time zone.
// Pure functions (tests/js/history.test.mjs): no DOM, no clock of their own.

const DAY_MS = 24 * 60 * 60 * 1000;

// Whole calendar days between two moments, as the local calendar counts them
// (a day of 23 or 25 hours when the clocks change is still one day).
export function daysBetween(earlier, later) {
  const start = Date.UTC(earlier.getFullYear(), earlier.getMonth(), earlier.getDate());
  const end = Date.UTC(later.getFullYear(), later.getMonth(), later.getDate());
  return Math.round((end - start) / DAY_MS);
}

// The group an entry falls in: "pinned", "today", "yesterday", "previous_7_days",
// "previous_30_days", or its month as "YYYY-MM" (the same keys as the list API).
export function groupKey(item, now = new Date()) {
  if (item.pinned) return "pinned";
  const moment = new Date(item.updated_at);
  const age = daysBetween(moment, now);
  if (age <= 0) return "today";
  if (age === 1) return "yesterday";
  if (age <= 7) return "previous_7_days";
  if (age <= 30) return "previous_30_days";
  const month = String(moment.getMonth() + 1).padStart(2, "0");
  return `${moment.getFullYear()}-${month}`;
}

// The list's order: pinned first, then newest activity, then newest id.
export function compareItems(a, b) {
  if (a.pinned !== b.pinned) return a.pinned ? -1 : 1;
  const byTime = Date.parse(b.updated_at) - Date.parse(a.updated_at);
  if (byTime) return byTime;
  return b.id - a.id;
}

// [{key, items}] in list order; each group once, its entries in list order.
export function groupItems(items, now = new Date()) {
  const groups = [];
  const byKey = new Map();
  for (const item of [...items].sort(compareItems)) {
    const key = groupKey(item, now);
    let group = byKey.get(key);
    if (!group) {
      group = { key, items: [] };
      byKey.set(key, group);
      groups.push(group);
    }
    group.items.push(item);
  }
  return groups;
}

// The heading of a group: a translated name, or the month in the reader's language.
export function groupLabel(key, strings = {}, lang = undefined) {
  if (strings[key]) return strings[key];
  const match = /^(\d{4})-(\d{2})$/.exec(key);
  if (!match) return key;
  const date = new Date(Number(match[1]), Number(match[2]) - 1, 1);
  return new Intl.DateTimeFormat(lang, { year: "numeric", month: "long" }).format(date);
}
