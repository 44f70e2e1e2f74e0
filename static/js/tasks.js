// Task pages: live progress without reloading, and drag-and-drop uploads.
(function () {
  "use strict";
  var POLL_MS = 1500;

  // Task list: swap in server-rendered rows (a template partial) for running tasks.
  var table = document.getElementById("task-table");
  function pollRows() {
    var active = table.querySelectorAll("tr[data-active]");
    if (!active.length) { return; }
    var ids = Array.prototype.map.call(active, function (row) { return row.dataset.taskId; });
    fetch(table.dataset.rowsUrl + "?ids=" + encodeURIComponent(ids.join(",")), {
      credentials: "same-origin", headers: { "Accept": "text/html" }
    }).then(function (response) {
      if (!response.ok) { throw new Error(response.status); }
      return response.text();
    }).then(function (html) {
      var body = document.createElement("tbody");
      body.innerHTML = html;
      Array.prototype.forEach.call(body.querySelectorAll("tr[data-task-id]"), function (row) {
        var current = document.getElementById(row.id);
        if (current) { current.replaceWith(row); }
      });
      setTimeout(pollRows, POLL_MS);
    }).catch(function () { setTimeout(pollRows, POLL_MS * 4); });
  }
  if (table) { setTimeout(pollRows, POLL_MS); }

  // Task detail: update the progress bar; reload once when the task finishes.
  var badge = document.getElementById("detail-status");
  function pollDetail() {
    fetch(badge.dataset.progressUrl + "?ids=" + badge.dataset.taskId, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var task = data.tasks[0];
        if (!task) { return; }
        document.getElementById("detail-progress").value = task.percent;
        document.getElementById("detail-pages").textContent = task.pages_done + "/" + task.page_count;
        var phase = document.getElementById("detail-phase");
        if (phase) { phase.textContent = task.phase_label; }
        if (task.status === "completed" || task.status === "failed") { window.location.reload(); return; }
        setTimeout(pollDetail, POLL_MS);
      }).catch(function () { setTimeout(pollDetail, POLL_MS * 4); });
  }
  if (badge && badge.hasAttribute("data-active")) { setTimeout(pollDetail, POLL_MS); }

  // Upload: dropping files onto the zone fills the form's file input.
  var zone = document.getElementById("dropzone");
  if (zone) {
    var input = zone.querySelector("input[type=file]");
    var chosen = document.getElementById("chosen");
    var show = function () {
      chosen.textContent = Array.prototype.map.call(input.files, function (f) { return f.name; }).join(", ");
    };
    input.addEventListener("change", show);
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        show();
      }
    });
  }
})();
