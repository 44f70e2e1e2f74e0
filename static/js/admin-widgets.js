// What axe-core finds in the Django admin's own widgets, mended once they are drawn
// (issue 26). Loaded last on every admin page (templates/admin/base_site.html), so this
// load listener runs after the widgets' own, which draw them.
"use strict";

// A tabular inline (an OCR task's pages) scrolls sideways on a phone; read-only, it
// holds nothing the keyboard can reach, so the keyboard could not scroll it (axe:
// scrollable-region-focusable). While it scrolls it is a tab stop, named by its heading.
const reachByKeyboard = (box) => {
  const heading = box.closest("fieldset")?.querySelector(".inline-heading");
  const scrolls = box.scrollWidth > box.clientWidth + 1;
  // Shown ones only: inlines.js puts a hidden "Add another" link in the table.
  const reachable = [
    ...box.querySelectorAll("a[href], button, input, select, textarea, [tabindex]"),
  ].some((control) => control.checkVisibility());
  if (scrolls && !reachable && heading?.id) {
    box.tabIndex = 0;
    box.setAttribute("role", "region");
    box.setAttribute("aria-labelledby", heading.id);
  } else if (box.getAttribute("role") === "region") {
    box.removeAttribute("tabindex");
    box.removeAttribute("role");
    box.removeAttribute("aria-labelledby");
  }
};

window.addEventListener("load", () => {
  // SelectFilter2.js (the two-box choosers for groups and permissions) names the
  // magnifier beside each filter box with aria-label on a bare <span>, a role that may
  // not be named (axe: aria-prohibited-attr). As an image it may, and the filter box's
  // label still reads "Type into this box to filter down the list of ...".
  for (const icon of document.querySelectorAll("span.search-label-icon[aria-label]")) {
    icon.setAttribute("role", "img");
  }
  // Asked again whenever the box or its table changes size: a narrower window, or a
  // font (the CJK one) that arrives after the load event and widens the table.
  for (const box of document.querySelectorAll(".inline-related.tabular div.wrapper")) {
    const watch = new ResizeObserver(() => reachByKeyboard(box));
    watch.observe(box);
    if (box.firstElementChild) watch.observe(box.firstElementChild);
  }
});
