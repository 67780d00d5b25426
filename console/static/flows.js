// The flow studio (console/flows): play a prompt's audio from its button or its box in the diagram; in the
// simulator, play the robot's latest words in order. One <audio id="player"> plays at a time.
(function () {
  "use strict";
  var queue = [];

  function player() { return document.getElementById("player"); }

  function mark(button, on) {
    if (!button) { return; }
    button.classList.toggle("playing", on);
    var row = button.closest("tr");
    if (row) { row.classList.toggle("playing", on); }
  }

  function play(button, rest) {
    var audio = player();
    if (!audio || !button) { return; }
    document.querySelectorAll(".playing").forEach(function (el) { el.classList.remove("playing"); });
    queue = rest || [];
    audio.src = button.getAttribute("data-audio");
    mark(button, true);
    var started = audio.play();
    if (started && started.catch) { started.catch(function () { mark(button, false); }); }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.play");
    if (button) { play(button, []); return; }
    var box = event.target.closest("svg [data-prompt]");
    if (box) {
      var row = document.getElementById(box.getAttribute("data-prompt"));
      var inRow = row ? row.querySelector("button.play") : null;
      if (inRow) { play(inRow, []); box.classList.add("playing"); }
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var audio = player();
    if (!audio) { return; }
    audio.addEventListener("ended", function () {
      document.querySelectorAll(".playing").forEach(function (el) { el.classList.remove("playing"); });
      if (queue.length) { play(queue[0], queue.slice(1)); }
    });
    var current = document.querySelector("[data-autoplay]");
    if (current) {
      var buttons = Array.prototype.slice.call(current.querySelectorAll("button.play"));
      if (buttons.length) { play(buttons[0], buttons.slice(1)); }  // the browser may refuse without a click
    }
  });
}());
