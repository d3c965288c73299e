// Icons from the vendored Lucide set (static/vendor/lucide/): a span that chat.css
// paints with the SVG as a mask, so it takes the text colour. Decorative: the button
// around it carries the accessible label.
import { el } from "./dom.js";

export function icon(name) {
  return el("span", { class: `icon icon-${name}`, "aria-hidden": "true" });
}
