// Task pages: live progress without reloading, and drag-and-drop uploads.
(function () {
  "use strict";
  var POLL_MS = 1500;

  // A poll answered 401: the session ended (log out everywhere, expiry). Say so, stop
  // polling, and stop claiming a user in the header; the page's figures are now stale.
  function SessionEnded() {}
  function sessionEnded() {
    var notice = document.getElementById("session-ended");
    if (notice) { notice.hidden = false; }
    // What the page last heard is no longer live: say so on every running task's badge.
    var label = notice && notice.dataset.staleLabel;
    document.querySelectorAll("tr[data-active] .badge, .badge[data-active]").forEach(function (badge) {
      if (label && !badge.classList.contains("stale")) {
        badge.textContent = label.replace("{status}", badge.textContent);
      }
      badge.classList.add("stale");
    });
    document.querySelectorAll("tr[data-active] progress, #detail-progress").forEach(function (bar) {
      bar.classList.add("stale");
    });
    document.querySelectorAll("[data-signed-in]").forEach(function (node) { node.hidden = true; });
    document.querySelectorAll("[data-signed-out]").forEach(function (node) { node.hidden = false; });
  }
  // Return the response if it is an answer; throw SessionEnded on a 401, else an Error.
  function checked(response) {
    if (response.status === 401) { sessionEnded(); throw new SessionEnded(); }
    // A redirect followed to another page (the login form) is not an answer either.
    if (!response.ok || response.redirected) { throw new Error(response.status); }
    return response;
  }
  // Retry later after a failure, but never after the session ended.
  function retryUnlessEnded(poll) {
    return function (error) {
      if (!(error instanceof SessionEnded)) { setTimeout(poll, POLL_MS * 4); }
    };
  }

  // A task the user watches finished: say so on the page (a visible notice, read out by
  // screen readers) and in the tab's title while the tab is in the background, so a user
  // in another tab sees it; the title comes back when the user returns.
  var baseTitle = document.title;
  function restoreTitle() {
    if (!document.hidden) { document.title = baseTitle; }
  }
  document.addEventListener("visibilitychange", restoreTitle);
  window.addEventListener("focus", restoreTitle);
  function announceFinished(messages) {
    var notice = document.getElementById("task-notice");
    if (!notice || !messages.length) { return; }
    notice.textContent = messages.join(" · ");
    notice.hidden = false;
    if (document.hidden || !document.hasFocus()) {
      document.title = "(" + messages.length + ") " + notice.dataset.titlePrefix + " · " + baseTitle;
    }
  }
  function finished(status) { return status === "completed" || status === "failed"; }

  // Task list: swap in server-rendered rows (a template partial) for running tasks.
  var table = document.getElementById("task-table");
  function pollRows() {
    var active = table.querySelectorAll("tr[data-active]");
    if (!active.length) { return; }
    var ids = Array.prototype.map.call(active, function (row) { return row.dataset.taskId; });
    fetch(table.dataset.rowsUrl + "?ids=" + encodeURIComponent(ids.join(",")), {
      credentials: "same-origin", headers: { "Accept": "text/html" }
    }).then(checked).then(function (response) {
      return response.text();
    }).then(function (html) {
      var body = document.createElement("tbody");
      body.innerHTML = html;
      var news = [];
      var done = [];
      Array.prototype.forEach.call(body.querySelectorAll("tr[data-task-id]"), function (row) {
        var current = document.getElementById(row.id);
        if (!current) { return; }
        // Keep what the user ticked for bulk delete, and where the keyboard focus was.
        var oldBox = current.querySelector("input[type=checkbox]");
        var newBox = row.querySelector("input[type=checkbox]");
        if (oldBox && newBox) { newBox.checked = oldBox.checked; }
        var focused = current.contains(document.activeElement) ? document.activeElement : null;
        if (current.dataset.status !== row.dataset.status) {
          news.push(row.dataset.name + ": " + row.querySelector(".badge").textContent);
          if (finished(row.dataset.status)) { done.push(news[news.length - 1]); }
        }
        current.replaceWith(row);
        if (focused && focused.id) {
          var again = document.getElementById(focused.id);
          if (again) { again.focus(); }
        }
      });
      // Screen readers hear status changes through the list's aria-live region.
      var announcer = document.getElementById("task-announcer");
      if (announcer && news.length) { announcer.textContent = news.join(". "); }
      announceFinished(done);
      setTimeout(pollRows, POLL_MS);
    }).catch(retryUnlessEnded(pollRows));
  }
  if (table) { setTimeout(pollRows, POLL_MS); }

  // Task detail: update the progress bar; reload once when the task finishes.
  var badge = document.getElementById("detail-status");
  function pollDetail() {
    fetch(badge.dataset.progressUrl + "?ids=" + badge.dataset.taskId, {
      credentials: "same-origin", headers: { "Accept": "application/json" }
    }).then(checked).then(function (response) { return response.json(); })
      .then(function (data) {
        var task = data.tasks[0];
        if (!task) { return; }
        document.getElementById("detail-progress").value = task.percent;
        document.getElementById("detail-pages").textContent = task.pages_done + "/" + task.page_count;
        var phase = document.getElementById("detail-phase");
        if (phase) { phase.textContent = task.phase_label; }
        if (finished(task.status)) {
          // The page reloads to show the result; the notice is given by the new page.
          try { sessionStorage.setItem("task-finished", badge.dataset.taskId); } catch (e) { /* private mode */ }
          window.location.reload();
          return;
        }
        setTimeout(pollDetail, POLL_MS);
      }).catch(retryUnlessEnded(pollDetail));
  }
  if (badge && badge.hasAttribute("data-active")) { setTimeout(pollDetail, POLL_MS); }
  if (badge) {
    var watched = null;
    try { watched = sessionStorage.getItem("task-finished"); sessionStorage.removeItem("task-finished"); } catch (e) { /* private mode */ }
    if (watched === badge.dataset.taskId) {
      announceFinished([badge.dataset.name + ": " + badge.textContent]);
    }
  }

  // Upload: offer only the languages the chosen engine reads (options carry data-engine).
  var engineSelect = document.getElementById("id_engine");
  var languageSelect = document.getElementById("id_language");
  function followEngine() {
    var engine = engineSelect.value;
    Array.prototype.forEach.call(languageSelect.options, function (option) {
      var other = option.dataset.engine && option.dataset.engine !== engine;
      option.hidden = other;
      option.disabled = other;
    });
    if (languageSelect.selectedOptions[0] && languageSelect.selectedOptions[0].disabled) {
      languageSelect.value = "";
    }
  }
  if (engineSelect && languageSelect) {
    engineSelect.addEventListener("change", followEngine);
    followEngine();
  }

  // Upload: a size as the server words it (Django's filesizeformat: "25.0 MB").
  function humanSize(bytes) {
    var units = ["KB", "MB", "GB", "TB"];
    if (bytes < 1024) { return bytes + " bytes"; }
    var value = bytes / 1024, unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return value.toFixed(1) + "\u00a0" + units[unit];
  }
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, key) { return values[key]; });
  }
  var ACCEPTED = /\.(png|jpe?g|tiff?|webp|bmp|pdf)$/i;
  var ACCEPTED_TYPES = /^(image\/(png|jpeg|tiff|webp|bmp)|application\/pdf)$/;
  // Return what is wrong with the chosen files before they are sent, one line each.
  function refusals(input) {
    var data = input.dataset, lines = [], max = Number(data.maxBytes);
    if (input.files.length > Number(data.maxFiles)) {
      lines.push(fill(data.tooMany, { count: input.files.length, limit: data.maxFiles }));
    }
    Array.prototype.forEach.call(input.files, function (file) {
      if (!file.size) {
        lines.push(fill(data.empty, { name: file.name }));
      } else if (file.size > max) {
        lines.push(fill(data.tooLarge, { name: file.name, size: humanSize(file.size), limit: data.limit }));
      } else if (!ACCEPTED.test(file.name) && !ACCEPTED_TYPES.test(file.type)) {
        lines.push(fill(data.wrongType, { name: file.name }));
      }
    });
    return lines;
  }

  // Upload: while the files are sent, the button is disabled and a progress bar shows.
  var form = document.getElementById("upload-form");
  if (form) {
    var button = document.getElementById("upload-button");
    var label = button.textContent;
    var fileInput = form.querySelector("input[type=file]");
    form.addEventListener("submit", function (event) {
      var lines = fileInput ? refusals(fileInput) : [];
      var box = document.getElementById("checked-in-page");
      box.hidden = !lines.length;
      if (lines.length) {
        // Not sent: the files stay chosen, and the list says what to change.
        event.preventDefault();
        box.replaceChildren();
        lines.concat([fileInput.dataset.notSent]).forEach(function (line) {
          var item = document.createElement("p");
          item.textContent = line;
          box.appendChild(item);
        });
        return;
      }
      // After the browser has taken the form data: disabling it now cannot drop a field.
      setTimeout(function () {
        button.disabled = true;
        button.textContent = button.dataset.busyLabel;
        document.getElementById("upload-progress").hidden = false;
        document.getElementById("upload-status").textContent = button.dataset.busyLabel;
      }, 0);
    });
    // Back from the next page (bfcache): the form is usable again.
    window.addEventListener("pageshow", function () {
      button.disabled = false;
      button.textContent = label;
      document.getElementById("upload-progress").hidden = true;
      document.getElementById("upload-status").textContent = "";
    });
  }

  // Upload: dropping files onto the zone fills the form's file input.
  var zone = document.getElementById("dropzone");
  if (zone) {
    var input = zone.querySelector("input[type=file]");
    var chosen = document.getElementById("chosen");
    var show = function () {
      chosen.textContent = Array.prototype.map.call(input.files, function (f) { return f.name; }).join(", ");
      // The server's "choose a file" (or too many) was about the last choice, not this one.
      var stale = document.getElementById("file-errors");
      if (stale && input.files.length) { stale.hidden = true; }
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
