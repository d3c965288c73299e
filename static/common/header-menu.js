// On a narrow screen the header's tools (language, theme, speech studio, account)
// fold into a menu: the button opens it; Escape, a click elsewhere or a choice
// made inside closes it. On a wide screen the button is hidden and this is idle.
const button = document.querySelector(".header-menu-button");
const header = button?.closest(".site-header");

function setOpen(open) {
  header.classList.toggle("header-menu-open", open);
  button.setAttribute("aria-expanded", String(open));
}

function isOpen() {
  return header.classList.contains("header-menu-open");
}

if (button && header) {
  button.addEventListener("click", () => setOpen(!isOpen()));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && isOpen()) {
      setOpen(false);
      button.focus();
    }
  });
  document.addEventListener("click", (event) => {
    if (isOpen() && !header.contains(event.target)) setOpen(false);
  });
}
