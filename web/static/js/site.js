/* Progressive enhancement only: every page works without this file.
 * Moves focus to the error summary when a form comes back with errors, as
 * screen-reader users expect (GOV.UK pattern). */
document.addEventListener('DOMContentLoaded', function () {
  var summary = document.querySelector('.error-summary[tabindex]');
  if (summary) summary.focus();
});
