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
          if (next && next.innerHTML !== old.innerHTML && !dirty(old)) old.replaceWith(document.importNode(next, true));
        });
      })
      .catch(function () { /* offline for a moment: try again at the next tick */ });
  }

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
