// Small progressive enhancements; every page works without this file.
"use strict";

// Forms that ask before they act.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});

// Copy buttons: <button data-copy="ID"> copies the text of the element with that id.
document.addEventListener("DOMContentLoaded", function () {
  var buttons = document.querySelectorAll("button[data-copy]");
  if (!navigator.clipboard) return;
  buttons.forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      var state = document.getElementById("copy-state");
      if (!source) return;
      navigator.clipboard.writeText(source.value || source.textContent).then(
        function () { if (state) state.textContent = "Copied."; },
        function () { if (state) state.textContent = "Copying failed; select the text instead."; }
      );
    });
  });
});

// Live regions: elements with an id and data-refresh are fetched again every few seconds
// (the page itself, as the server renders it) and swapped in when they changed, so the
// fleet and camera pages follow the cameras without a reload and with one rendering.
(function () {
  var EVERY_MS = 3000;
  var busy = false;

  function sameTarget(a, b) {
    return a.tagName === b.tagName &&
      a.getAttribute("href") === b.getAttribute("href") &&
      a.getAttribute("action") === b.getAttribute("action") &&
      a.textContent === b.textContent;
  }

  function swap(region, fresh) {
    if (region.innerHTML === fresh.innerHTML) return;
    var focused = document.activeElement;
    var holdsFocus = focused && focused !== document.body && region.contains(focused);
    var form = holdsFocus ? focused.closest("form") : null;
    var replacement = document.importNode(fresh, true);
    region.replaceWith(replacement);
    if (!holdsFocus) return;
    // Keep keyboard focus where it was: on the same link or button in the new content.
    var candidates = replacement.querySelectorAll(focused.tagName);
    for (var i = 0; i < candidates.length; i++) {
      var c = candidates[i];
      var cForm = c.closest("form");
      if (sameTarget(c, focused) && (!form || (cForm && sameTarget(cForm, form)))) {
        c.focus();
        return;
      }
    }
  }

  function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        // A redirect means the session ended: leave the page as it is.
        if (!response.ok || response.redirected) return null;
        return response.text();
      })
      .then(function (text) {
        if (text === null) return;
        var doc = new DOMParser().parseFromString(text, "text/html");
        document.querySelectorAll("[data-refresh][id]").forEach(function (region) {
          var fresh = doc.getElementById(region.id);
          if (fresh) swap(region, fresh);
        });
      })
      .catch(function () { /* the next round tries again */ })
      .finally(function () { busy = false; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!document.querySelector("[data-refresh][id]") || !window.fetch) return;
    window.setInterval(refresh, EVERY_MS);
    document.addEventListener("visibilitychange", refresh);
  });
})();
