// 质检复核: each answer's button seeks the whole-call recording to that answer and plays it (a file, not inline:
// the CSP allows no inline script). <button data-seek="12.5" data-audio="call-audio">; the player has
// preload="none", so before its metadata has loaded the position is set again once it has.
document.addEventListener("click", function (event) {
  var button = event.target.closest ? event.target.closest("button[data-seek]") : null;
  if (!button) { return; }
  event.preventDefault();
  var audio = document.getElementById(button.getAttribute("data-audio"));
  var at = parseFloat(button.getAttribute("data-seek"));
  if (!audio || isNaN(at)) { return; }
  var seek = function () { audio.currentTime = at; };
  if (audio.readyState >= 1) {
    seek();
  } else {
    audio.addEventListener("loadedmetadata", seek, { once: true });
    audio.load();
  }
  var played = audio.play();
  if (played && played.catch) { played.catch(function () { /* autoplay refused: the position is set */ }); }
  document.querySelectorAll("button[data-seek].playing").forEach(function (b) { b.classList.remove("playing"); });
  button.classList.add("playing");
});
