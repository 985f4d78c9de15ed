// ieforge results: behaviour shared by the static view (ieforge view) and the service page (ieforge serve).
// Everything is delegated from the document, so results inserted later (the page) need no setup.
// The results read fine without this script: links are plain #anchors and CSS :target shows the span.
(function () {
  "use strict";
  if (window.ieforgeView) {
    return;
  }

  // legend chips hide or show the marks of one label (within the results block the chip belongs to)
  function toggleLabel(chip) {
    var on = chip.getAttribute("aria-pressed") === "false";
    chip.setAttribute("aria-pressed", on ? "true" : "false");
    var scope = chip.closest(".ief-results") || document;
    var label = chip.getAttribute("data-label");
    scope.querySelectorAll("mark.ent, mark.trg").forEach(function (m) {
      if (m.getAttribute("data-label") === label) {
        m.classList.toggle("off", !on);
      }
    });
  }

  // a row (relation, event, triple) lights up the spans it refers to while the pointer is on it
  function light(row, on) {
    (row.getAttribute("data-refs") || "").split(" ").forEach(function (id) {
      var target = id && document.getElementById(id);
      if (target) {
        target.classList.toggle("lit", on);
      }
    });
  }

  function closest(node, selector) {
    return node && node.nodeType === 1 ? node.closest(selector) : null;
  }

  document.addEventListener("click", function (ev) {
    var chip = closest(ev.target, ".ief-chip[data-label]");
    if (chip) {
      toggleLabel(chip);
      return;
    }
    // clicking the link of the span that is already the target replays the flash
    var ref = closest(ev.target, "a.ref");
    if (ref && ref.getAttribute("href") === window.location.hash) {
      var target = document.getElementById(ref.getAttribute("href").slice(1));
      if (target) {
        target.style.animation = "none";
        void target.offsetWidth;
        target.style.animation = "";
      }
    }
  });
  document.addEventListener("mouseover", function (ev) {
    var row = closest(ev.target, "[data-refs]");
    if (row && !row.contains(ev.relatedTarget)) {
      light(row, true);
    }
  });
  document.addEventListener("mouseout", function (ev) {
    var row = closest(ev.target, "[data-refs]");
    if (row && !row.contains(ev.relatedTarget)) {
      light(row, false);
    }
  });

  window.ieforgeView = { ready: true };
})();
