// What axe-core finds in the Django admin's own widgets, mended once they are drawn
// (issue 26). Loaded last on every admin page (templates/admin/base_site.html), so this
// load listener runs after the widgets' own, which draw them.
"use strict";

window.addEventListener("load", () => {
  // SelectFilter2.js (the two-box choosers for groups and permissions) names the
  // magnifier beside each filter box with aria-label on a bare <span>, a role that may
  // not be named (axe: aria-prohibited-attr). As an image it may, and the filter box's
  // label still reads "Type into this box to filter down the list of ...".
  for (const icon of document.querySelectorAll("span.search-label-icon[aria-label]")) {
    icon.setAttribute("role", "img");
  }
});
