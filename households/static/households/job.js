// A background job's page (templates/admin/households/job/progress.html): polls the job's state
// every second and shows its counters; once the job ends (or has a problem) the page reloads, and the
// server shows the outcome (the file, the result, or the error and 重试).
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box) {
    return;
  }
  var url = box.getAttribute("data-status-url");
  var status = document.getElementById("job-status");
  var count = document.getElementById("job-count");
  var bar = document.getElementById("job-progress");
  var step = document.getElementById("job-step");
  var waiting = document.getElementById("job-waiting");

  function show(state) {
    status.textContent = state.status_label;
    if (state.total) {
      count.textContent = "（" + state.done + "/" + state.total + " " + state.unit + "）";
      bar.max = state.total;
      bar.value = state.done;
    } else {
      count.textContent = state.done ? "（已处理 " + state.done + " " + state.unit + "）" : "";
      bar.removeAttribute("value");
    }
    step.textContent = state.step;
    waiting.textContent = state.waiting;
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (state) {
        if (state && (state.finished || state.error)) {
          window.location.reload();
          return;
        }
        if (state) {
          show(state);
        }
        window.setTimeout(poll, 1000);
      })
      .catch(function () {
        window.setTimeout(poll, 2000);
      });
  }

  window.setTimeout(poll, 1000);
})();
