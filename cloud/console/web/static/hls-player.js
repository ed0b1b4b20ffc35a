// Plays HLS through the console's playlists: recordings (segments as presigned OSS URLs, keys
// from /api/keys/, same origin so the session cookie goes with them) and recordings in
// progress (byte ranges of the growing object; the playlist has no ENDLIST, so hls.js reloads
// it and follows the live edge). Chromium and Firefox play it through hls.js (Media Source
// Extensions); Safari plays HLS by itself.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var video = document.getElementById("player");
  var source = video && video.getAttribute("data-hls-src");
  if (!source) return;
  var live = video.getAttribute("data-live") === "1";
  var hls = null;
  if (window.Hls && window.Hls.isSupported()) {
    // No worker: the page's Content-Security-Policy allows scripts from this origin only.
    var config = { enableWorker: false };
    if (live) {
      // From the recording's start; reload the playlist about every fragment.
      config.startPosition = 0;
      config.liveSyncDurationCount = 2;
      config.liveMaxLatencyDurationCount = Infinity;
    }
    hls = new window.Hls(config);
    hls.on(window.Hls.Events.ERROR, function (_event, data) {
      if (live && data.details === "levelEmptyError") {
        // A recording that has just begun holds no complete fragment yet: ask again soon.
        window.setTimeout(function () { hls.loadSource(source); }, 1000);
        return;
      }
      if (data.fatal) video.setAttribute("data-hls-error", data.type + ": " + data.details);
    });
    hls.loadSource(source);
    hls.attachMedia(video);
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = source;
  } else {
    video.setAttribute("data-hls-error", "this browser cannot play HLS");
  }
  var button = document.getElementById("go-live");
  if (button) {
    button.addEventListener("click", function () {
      var edge = hls && hls.liveSyncPosition;
      if (!edge && video.seekable.length) edge = video.seekable.end(video.seekable.length - 1) - 1;
      if (edge) video.currentTime = Math.max(0, edge);
      video.play();
    });
  }
});
