/* global document, window, setTimeout */
// Reloads a dashboard page every data-refresh-seconds (the "opdateret kl." line says when its numbers
// were read), but never under an operator's hands: not while a field has focus, a "vis detaljer"
// is open, or text is selected, and not while the tab is hidden. A file of forny's own: the CSP
// allows no inline script.
(function keepFresh() {
  const line = document.getElementById('updated-at');
  if (!line) return;
  const seconds = Number(line.dataset.refreshSeconds) || 30;
  const busy = () =>
    document.visibilityState !== 'visible' ||
    (document.activeElement && ['INPUT', 'SELECT', 'TEXTAREA', 'BUTTON'].includes(document.activeElement.tagName)) ||
    document.querySelector('details[open]') !== null ||
    String(window.getSelection()) !== '';
  const tick = () => {
    if (busy()) setTimeout(tick, 5000);
    else window.location.reload();
  };
  setTimeout(tick, seconds * 1000);
})();
