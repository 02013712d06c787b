// Live refresh: re-read this page every few seconds and swap the parts marked data-live, unless the person is
// using something inside one (focus, or a form field changed from what the page gave). Forms outside those
// parts are never touched, so a half-typed note survives. Without JavaScript the pages work the same, unrefreshed.
(function () {
  "use strict";
  var main = document.querySelector("main[data-refresh]");

  function dirty(el) {
    if (el.contains(document.activeElement) && document.activeElement !== document.body) return true;
    var fields = el.querySelectorAll("input, textarea, select");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type === "hidden") continue;
      if (f.tagName === "SELECT") {
        for (var j = 0; j < f.options.length; j++) {
          if (f.options[j].selected !== f.options[j].defaultSelected) return true;
        }
      } else if (f.value !== f.defaultValue) {
        return true;
      }
    }
    return false;
  }

  function refresh() {
    if (document.hidden) return;
    fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" }, redirect: "manual" })
      .then(function (response) {
        if (!response.ok) return null;
        return response.text();
      })
      .then(function (text) {
        if (text === null) return;
        var fresh = new DOMParser().parseFromString(text, "text/html");
        document.querySelectorAll("[data-live]").forEach(function (old) {
          var next = old.id && fresh.getElementById(old.id);
          if (next && next.innerHTML !== old.innerHTML && !dirty(old)) {
            var part = document.importNode(next, true);
            old.replaceWith(part);
            localize(part);
          }
        });
      })
      .catch(function () { /* offline for a moment: try again at the next tick */ });
  }

  // Times come in UTC; each is shown in the reader's own time zone, its UTC kept as the title (hover).
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function zoneName(d) {
    try {
      var parts = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" }).formatToParts(d);
      for (var i = 0; i < parts.length; i++) if (parts[i].type === "timeZoneName") return parts[i].value;
    } catch (e) { /* an old browser: the offset below */ }
    var off = -d.getTimezoneOffset();
    return "UTC" + (off < 0 ? "-" : "+") + two(Math.floor(Math.abs(off) / 60)) + ":" + two(Math.abs(off) % 60);
  }
  function localize(root) {
    root.querySelectorAll("time[datetime]").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (isNaN(d.getTime()) || t.getAttribute("data-local")) return;
      t.textContent = d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + " " +
        two(d.getHours()) + ":" + two(d.getMinutes()) + ":" + two(d.getSeconds()) + " " + zoneName(d);
      t.setAttribute("data-local", "1");
    });
  }
  localize(document);

  if (main) setInterval(refresh, Math.max(1000, parseInt(main.getAttribute("data-refresh"), 10) || 5000));

  // The status-update form: choosing a phase puts that phase's template in the message, unless it was edited.
  var phase = document.getElementById("phase");
  var message = document.getElementById("status-message");
  if (phase && message) {
    var templates = [];
    for (var k = 0; k < phase.options.length; k++) templates.push(phase.options[k].getAttribute("data-template"));
    phase.addEventListener("change", function () {
      if (message.value === "" || templates.indexOf(message.value) >= 0) {
        message.value = phase.options[phase.selectedIndex].getAttribute("data-template");
      }
    });
  }
})();
