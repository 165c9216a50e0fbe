// Booking pages: show slots in the visitor's own timezone. Without JavaScript the page
// uses the organisation's timezone and the timezone menu still works.
(function () {
  var params = new URLSearchParams(window.location.search);
  if (params.has("tz")) return;
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone) return;
  params.set("tz", zone);
  window.location.replace(window.location.pathname + "?" + params.toString());
})();
