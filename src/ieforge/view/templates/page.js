// The service page: send the form to a task endpoint, then show the answer with the view's renderer
// (POST page/render returns the same HTML that ieforge view writes for a results file).
(function () {
  "use strict";
  var form = document.getElementById("ief-form");
  var task = document.getElementById("ief-task");
  var input = document.getElementById("ief-input");
  var labels = document.getElementById("ief-labels");
  var relationSchema = document.getElementById("ief-rschema");
  var eventSchema = document.getElementById("ief-eschema");
  var instruction = document.getElementById("ief-instruction");
  var headers = document.getElementById("ief-headers");
  var run = document.getElementById("ief-run");
  var status = document.getElementById("ief-status");
  var out = document.getElementById("ief-out");
  var rawBox = document.getElementById("ief-raw-box");
  var raw = document.getElementById("ief-raw");
  var key = document.getElementById("ief-key"); // present when the service has an API key

  function showFields() {
    form.querySelectorAll("[data-task]").forEach(function (el) {
      el.hidden = el.getAttribute("data-task") !== task.value;
    });
  }

  function list(field) {
    return field.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
  }

  // the request body of each task endpoint (POST v1/TASK)
  function request() {
    var body = { text: input.value };
    if (task.value === "ner") {
      body.labels = list(labels);
    } else if (task.value === "relations") {
      body.schema = relationSchema.value.trim() || "tacred";
    } else if (task.value === "events") {
      body.schema = eventSchema.value.trim() || "casie";
    } else if (task.value === "table") {
      body.instruction = instruction.value.trim();
      body.headers = list(headers);
    }
    return body;
  }

  // an error answer: {"error": ...} from ieforge, or FastAPI's {"detail": "..." | [{loc, msg}, ...]}
  function errorText(data, res) {
    var e = data && (data.error !== undefined && data.error !== null ? data.error : data.detail);
    if (e === undefined || e === null) {
      return "HTTP " + res.status + " " + res.statusText;
    }
    if (Array.isArray(e)) {
      return e.map(function (d) {
        return d && d.msg ? (d.loc ? d.loc.join(".") + ": " : "") + d.msg : JSON.stringify(d);
      }).join("; ");
    }
    if (typeof e === "object") {
      return e.message ? String(e.message) : JSON.stringify(e);
    }
    return String(e);
  }

  function showError(message) {
    var box = document.createElement("div");
    box.className = "ief-error";
    box.setAttribute("role", "alert");
    var strong = document.createElement("strong");
    strong.textContent = "error";
    box.appendChild(strong);
    box.appendChild(document.createTextNode(" " + message));
    out.replaceChildren(box);
    out.setAttribute("data-state", "error");
  }

  async function postJSON(path, body) {
    var headers = { "Content-Type": "application/json", "Accept": "application/json" };
    if (key && key.value.trim()) {
      headers.Authorization = "Bearer " + key.value.trim(); // kept in the field only, never stored
    }
    return fetch(path, { method: "POST", headers: headers, body: JSON.stringify(body) });
  }

  async function submit(ev) {
    ev.preventDefault();
    if (!input.value.trim()) {
      input.focus();
      return;
    }
    var started = performance.now();
    run.disabled = true;
    status.textContent = "running " + task.value + " …";
    out.setAttribute("data-state", "running");
    try {
      var res = await postJSON("v1/" + encodeURIComponent(task.value), request());
      var data = null;
      try {
        data = await res.json();
      } catch (err) {
        data = null;
      }
      raw.textContent = data === null ? "" : JSON.stringify(data, null, 2);
      rawBox.hidden = data === null;
      if (!res.ok || data === null || (data.error !== undefined && data.error !== null)) {
        showError(errorText(data, res));
        if (res.status === 401 && key) {
          key.focus();
        }
        status.textContent = "";
        return;
      }
      var view = await postJSON("page/render", { records: [data] });
      if (!view.ok) {
        showError("could not render the answer: HTTP " + view.status);
        status.textContent = "";
        return;
      }
      out.innerHTML = await view.text(); // HTML from the server's renderer, every value escaped there
      out.setAttribute("data-state", "done");
      status.textContent = "done in " + ((performance.now() - started) / 1000).toFixed(1) + " s";
    } catch (err) {
      showError("the request failed: " + err);
      status.textContent = "";
    } finally {
      run.disabled = false;
    }
  }

  task.addEventListener("change", showFields);
  form.addEventListener("submit", submit);
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      form.requestSubmit();
    }
  });
  showFields();
})();
