// Keyboard shortcuts of the task list, listed on the help page (templates/help.html):
//   /  search    j  next task    k  previous task    o  open the task    ?  help
// They never fire while the user types in a field, nor with Ctrl, Alt or Meta held
// (the browser's own shortcuts). Escape leaves the search box.
(function () {
  "use strict";
  var table = document.getElementById("task-table");
  var search = document.querySelector("main form[role=search] input[type=search]");

  function typing(target) {
    return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
  }
  function links() {
    return table ? Array.prototype.slice.call(table.querySelectorAll("td.name > a")) : [];
  }
  // The row that holds the focus; -1 when the focus is outside the list.
  function current(all) {
    var row = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest("#task-table tr[data-task-id]") : null;
    if (!row) { return -1; }
    var link = row.querySelector("td.name > a");
    return all.indexOf(link);
  }
  function move(step) {
    var all = links();
    if (!all.length) { return; }
    var index = current(all);
    index = index < 0 ? 0 : Math.min(all.length - 1, Math.max(0, index + step));
    all[index].focus();
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.altKey || event.metaKey || event.defaultPrevented) { return; }
    if (typing(event.target)) {
      if (event.key === "Escape" && event.target === search) { search.blur(); }
      return;
    }
    var all;
    switch (event.key) {
      case "/":
        if (!search) { return; }
        search.focus();
        search.select();
        break;
      case "j":
        move(1);
        break;
      case "k":
        move(-1);
        break;
      case "o":
        all = links();
        if (current(all) < 0) { return; }
        all[current(all)].click();
        break;
      case "?":
        if (!document.querySelector("a[data-help]")) { return; }
        window.location.assign(document.querySelector("a[data-help]").href);
        break;
      default:
        return;
    }
    event.preventDefault();
  });
})();
