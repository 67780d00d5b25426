// 全选本页: the queue's header checkbox ticks every row's checkbox (a file, not inline: the CSP allows no inline
// script). Delegated from the document, so it keeps working after htmx swaps the list in.
document.addEventListener("change", function (event) {
  var all = event.target;
  if (!all || all.id !== "select-all") { return; }
  document.querySelectorAll('input[type=checkbox][name=case]').forEach(function (box) { box.checked = all.checked; });
});
