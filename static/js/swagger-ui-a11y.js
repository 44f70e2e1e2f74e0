// What axe-core finds in the API docs' Swagger UI, mended as it draws them (issue 26).
// Swagger UI draws (and redraws) the page from the schema after it loaded, hence the
// observer; the attributes it adds are ones Swagger UI never sets, so a redraw keeps them.
"use strict";

(() => {
  const root = document.getElementById("swagger-ui");
  const mend = () => {
    // The title, version and description sit outside Swagger UI's <main>, in no landmark
    // (axe: region): they are the page's header.
    for (const info of root.querySelectorAll(".information-container:not([role])")) {
      info.setAttribute("role", "banner");
    }
    // The page's <h1> is followed by an <h3> for each group of operations and an <h4> for
    // the schemas, skipping a level (axe: heading-order): both are its second level.
    for (const heading of root.querySelectorAll(
      "h3.opblock-tag:not([aria-level]), section.models > h4:not([aria-level])",
    )) {
      heading.setAttribute("aria-level", "2");
    }
  };
  new MutationObserver(mend).observe(root, { childList: true, subtree: true });
})();
