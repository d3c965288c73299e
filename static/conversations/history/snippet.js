// A search result's snippet with its matches marked. The API sends plain text and
// [start, end) ranges in UTF-16 code units (JavaScript string indices); the model's
// text is only ever set as text: <mark> elements are built with DOM calls.

// [{text, mark}] pieces covering `text`; ranges out of order, overlapping or out of
// bounds are tidied, never trusted.
export function snippetParts(text, ranges = []) {
  const clean = ranges
    .filter((r) => Array.isArray(r) && Number.isInteger(r[0]) && Number.isInteger(r[1]))
    .map(([start, end]) => [Math.max(0, start), Math.min(text.length, end)])
    .filter(([start, end]) => start < end)
    .sort((a, b) => a[0] - b[0]);
  const parts = [];
  let at = 0;
  for (const [start, end] of clean) {
    if (end <= at) continue;
    const from = Math.max(start, at);
    if (from > at) parts.push({ text: text.slice(at, from), mark: false });
    parts.push({ text: text.slice(from, end), mark: true });
    at = end;
  }
  if (at < text.length) parts.push({ text: text.slice(at), mark: false });
  return parts;
}

// The snippet as DOM nodes (text nodes and <mark>s) appended to `parent`.
export function renderSnippet(parent, text, ranges, doc = document) {
  for (const part of snippetParts(text, ranges)) {
    if (part.mark) {
      const mark = doc.createElement("mark");
      mark.textContent = part.text;
      parent.append(mark);
    } else {
      parent.append(doc.createTextNode(part.text));
    }
  }
  return parent;
}
