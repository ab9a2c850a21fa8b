// Copy buttons for the DNS records table; delegated so rows swapped in by htmx work too.
(function () {
  if (window.mailherdDnsCopy) return;
  window.mailherdDnsCopy = true;
  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text; area.setAttribute("readonly", ""); area.style.position = "fixed"; area.style.opacity = "0";
    document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); } finally { document.body.removeChild(area); }
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest(".dns-copy");
    if (!button) return;
    var text = button.getAttribute("data-copy");
    var done = function () {
      var label = button.textContent;
      button.classList.add("copied"); button.textContent = "Copied";
      setTimeout(function () { button.classList.remove("copied"); button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
    } else { fallbackCopy(text); done(); }
  });
})();
