// The report form of GET /report: it posts the form as JSON to
// POST /api/v1/reports and shows the answer as text (never as HTML).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("report");
  var result = document.getElementById("result");
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var body = {
      url: form.elements.url.value,
      reason: form.elements.reason.value,
      details: form.elements.details.value,
      contact: form.elements.contact.value
    };
    result.textContent = "Sending…";
    fetch("/api/v1/reports", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (resp) {
      return resp.json().then(function (doc) {
        if (resp.status === 202) {
          result.textContent = "Thank you. Your report " + doc.id + " was received.";
          form.reset();
        } else {
          result.textContent = "The report was not accepted: " + (doc.detail || resp.statusText);
        }
      });
    }).catch(function () {
      result.textContent = "The report could not be sent; please try again.";
    });
  });
});
