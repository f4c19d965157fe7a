// skillvault review console: the little the pages need beyond plain forms.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // "Select all" ticks every draft's box in the batch form.
  const all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", () => {
      document.querySelectorAll('input[name="ids"][form="batch"]').forEach((box) => { box.checked = all.checked; });
    });
  }
  // A batch rejection needs a reason and at least one draft: say so before sending.
  const batch = document.getElementById("batch");
  if (batch) {
    batch.addEventListener("submit", (event) => {
      const picked = document.querySelectorAll('input[name="ids"][form="batch"]:checked').length;
      const reason = batch.elements.reason;
      if (!picked) {
        event.preventDefault();
        alert("Tick at least one draft first.");
      } else if (batch.elements.action.value === "reject" && !reason.value.trim()) {
        event.preventDefault();
        reason.focus();
        reason.setCustomValidity("Say why the drafts are rejected.");
        reason.reportValidity();
      }
    });
    batch.elements.reason.addEventListener("input", (event) => event.target.setCustomValidity(""));
  }
});
