// The compose page: "Send at" is the browser's local time; its UTC offset for that moment
// (daylight saving included) goes with it, so the server gets an aware datetime.
(function () {
  "use strict";
  function offsetOf(value) {
    var local = new Date(value);  // datetime-local text is read as local time
    return isNaN(local) ? "" : String(-local.getTimezoneOffset());
  }
  function ready() {
    var form = document.getElementById("compose-form");
    if (!form) return;
    var at = document.getElementById("send_at"), tz = document.getElementById("tz_offset");
    var button = document.getElementById("send-button");
    function update() {
      var later = document.getElementById("when-at").checked;
      tz.value = at.value ? offsetOf(at.value) : "";
      button.textContent = later ? "Schedule" : "Send now";
    }
    at.addEventListener("input", function () {
      document.getElementById("when-at").checked = true;
      update();
    });
    form.addEventListener("change", update);
    form.addEventListener("submit", update);
    update();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
