// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  // A list that submits itself (the language) does so when a choice is made with the
  // pointer or confirmed with Enter. Arrow keys only move through it: Chrome and Firefox
  // fire "change" on every arrow key of a closed list, which would switch the site on the
  // first key (WCAG 3.2.2). The Go button comes back for a choice made from the keyboard.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    var go = select.form.querySelector("[data-language-go]");
    var fromKeyboard = false;
    if (go) { go.hidden = true; }
    select.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        select.form.submit();
        return;
      }
      fromKeyboard = true;
    });
    select.addEventListener("pointerdown", function () { fromKeyboard = false; });
    select.addEventListener("change", function () {
      if (!fromKeyboard) { select.form.submit(); return; }
      if (go) { go.hidden = false; }
    });
  });
  document.querySelectorAll("[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
})();
