// The console's own script (the CSP allows no inline script): destructive buttons ask first.
// A submit button (or form) with data-confirm="question" submits only when the question is
// accepted. Listening on the document in the capture phase covers every form, plain or htmx,
// and runs before htmx sees the submit.
"use strict";
document.addEventListener(
  "submit",
  (event) => {
    const button = event.submitter;
    const question =
      (button && button.dataset.confirm) || event.target.dataset.confirm;
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  },
  true,
);
