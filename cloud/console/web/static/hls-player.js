// Plays HLS recordings: the video element names the console's rewritten playlist, whose
// segments are presigned OSS URLs and whose keys come from /api/keys/ (same origin, so the
// session cookie goes with them). Chromium and Firefox play it through hls.js (Media Source
// Extensions); Safari plays HLS by itself.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var video = document.getElementById("player");
  var source = video && video.getAttribute("data-hls-src");
  if (!source) return;
  if (window.Hls && window.Hls.isSupported()) {
    // No worker: the page's Content-Security-Policy allows scripts from this origin only.
    var hls = new window.Hls({ enableWorker: false });
    hls.on(window.Hls.Events.ERROR, function (_event, data) {
      if (data.fatal) video.setAttribute("data-hls-error", data.type + ": " + data.details);
    });
    hls.loadSource(source);
    hls.attachMedia(video);
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = source;
  } else {
    video.setAttribute("data-hls-error", "this browser cannot play HLS");
  }
});
