// The conversation list's day groups and the search snippet's marks
// (static/conversations/history/groups.js, snippet.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { compareItems, groupItems, groupKey, groupLabel } from "../../static/conversations/history/groups.js";
import { snippetParts } from "../../static/conversations/history/snippet.js";

const NOW = new Date(2026, 4, 20, 9, 30); // 20 May 2026, 09:30 local time
const at = (y, m, d, h = 12) => new Date(y, m - 1, d, h).toISOString();

test("entries fall in today, yesterday, the last 7 and 30 days, then months", () => {
  const key = (updated_at, pinned = false) => groupKey({ updated_at, pinned }, NOW);
  assert.equal(key(at(2026, 5, 20, 0)), "today");
  assert.equal(key(at(2026, 5, 19, 23)), "yesterday");
  assert.equal(key(at(2026, 5, 18)), "previous_7_days");
  assert.equal(key(at(2026, 5, 13)), "previous_7_days");
  assert.equal(key(at(2026, 5, 12)), "previous_30_days");
  assert.equal(key(at(2026, 4, 20)), "previous_30_days");
  assert.equal(key(at(2026, 4, 19)), "2026-04");
  assert.equal(key(at(2025, 12, 1)), "2025-12");
  assert.equal(key(at(2024, 1, 1), true), "pinned");
});

test("pinned come first, then newest activity; each group once, in order", () => {
  const items = [
    { id: 1, title: "old", updated_at: at(2026, 1, 5), pinned: false },
    { id: 2, title: "today", updated_at: at(2026, 5, 20, 8), pinned: false },
    { id: 3, title: "pinned long ago", updated_at: at(2025, 3, 1), pinned: true },
    { id: 4, title: "today later", updated_at: at(2026, 5, 20, 9), pinned: false },
    { id: 5, title: "january too", updated_at: at(2026, 1, 9), pinned: false },
  ];
  const groups = groupItems(items, NOW);
  assert.deepEqual(
    groups.map((g) => [g.key, g.items.map((i) => i.id)]),
    [
      ["pinned", [3]],
      ["today", [4, 2]],
      ["2026-01", [5, 1]],
    ],
  );
});

test("equal times are ordered newest id first", () => {
  const same = at(2026, 5, 1);
  const a = { id: 7, updated_at: same, pinned: false };
  const b = { id: 9, updated_at: same, pinned: false };
  assert.deepEqual([a, b].sort(compareItems).map((i) => i.id), [9, 7]);
});

test("group headings are translated, months are formatted in the reader's language", () => {
  assert.equal(groupLabel("today", { today: "今天" }), "今天");
  assert.equal(groupLabel("2026-03", {}, "en"), "March 2026");
  assert.equal(groupLabel("2026-03", {}, "zh-Hans"), "2026年3月");
});

test("snippet ranges become marked and plain pieces", () => {
  assert.deepEqual(snippetParts("the oil price of oil", [[4, 7], [17, 20]]), [
    { text: "the ", mark: false },
    { text: "oil", mark: true },
    { text: " price of ", mark: false },
    { text: "oil", mark: true },
  ]);
});

test("ranges count UTF-16 units, as the API sends them (Chinese and emoji)", () => {
  const text = "…学习三星堆正确拍照 😀 猫";
  const start = text.indexOf("三星堆");
  const cat = text.indexOf("猫");
  const parts = snippetParts(text, [[start, start + 3], [cat, cat + 1]]);
  assert.deepEqual(parts.filter((p) => p.mark).map((p) => p.text), ["三星堆", "猫"]);
  assert.equal(parts.map((p) => p.text).join(""), text);
});

test("bad ranges are tidied, never trusted: out of bounds, overlapping, unsorted", () => {
  const parts = snippetParts("abcdef", [[4, 99], [1, 3], [2, 4], [-5, 0], ["x", 2], [5, 5]]);
  assert.deepEqual(parts, [
    { text: "a", mark: false },
    { text: "bc", mark: true },
    { text: "d", mark: true },
    { text: "ef", mark: true },
  ]);
  assert.deepEqual(snippetParts("<b>x</b>", []), [{ text: "<b>x</b>", mark: false }]);
});
