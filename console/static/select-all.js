// 全选本页: the queue's header checkbox ticks every row's checkbox (a file, not inline: the CSP allows no inline script).
document.addEventListener("DOMContentLoaded", function () {
  var all = document.getElementById("select-all");
  if (!all) { return; }
  all.addEventListener("change", function () {
    document.querySelectorAll('input[type=checkbox][name=case]').forEach(function (box) { box.checked = all.checked; });
  });
});
