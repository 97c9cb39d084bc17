// The workspace's only script: a print button for the review pack. Pages work without it.
document.addEventListener("click", function (event) {
  var target = event.target;
  if (target instanceof Element && target.hasAttribute("data-print")) {
    window.print();
  }
});
