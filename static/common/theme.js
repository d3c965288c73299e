// Light, dark or the system's theme, remembered in this browser. A classic script in
// <head> (not a module, not deferred) so the chosen theme is set before the first
// paint; the buttons of the header's switch are wired once the page has loaded.
(() => {
  const KEY = "theme";
  const CHOICES = ["light", "dark", "system"];
  const root = document.documentElement;

  function stored() {
    try {
      const value = localStorage.getItem(KEY);
      return CHOICES.includes(value) ? value : "system";
    } catch {
      return "system"; // storage refused (private mode): follow the system
    }
  }

  function apply(choice) {
    if (choice === "system") delete root.dataset.theme;
    else root.dataset.theme = choice;
    // highlight.js's two stylesheets follow the same choice.
    for (const link of document.querySelectorAll("link[data-theme-css]")) {
      const scheme = link.dataset.themeCss;
      link.media =
        choice === "system" ? `(prefers-color-scheme: ${scheme})` : choice === scheme ? "all" : "not all";
    }
    for (const button of document.querySelectorAll("[data-theme-choice]")) {
      button.setAttribute("aria-pressed", String(button.dataset.themeChoice === choice));
    }
  }

  function choose(choice) {
    try {
      localStorage.setItem(KEY, choice);
    } catch {
      // Not remembered, still applied.
    }
    apply(choice);
  }

  apply(stored());
  document.addEventListener("DOMContentLoaded", () => {
    apply(stored());
    for (const button of document.querySelectorAll("[data-theme-choice]")) {
      button.addEventListener("click", () => choose(button.dataset.themeChoice));
    }
  });
})();
