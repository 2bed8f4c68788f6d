/* global document, Chart */
// Draws the overview's "messages per hour" chart from the JSON the page embeds (#hourly-data).
// A file of its own, not an inline script, so the dashboard's CSP can forbid inline scripts.
(function drawHourlyChart() {
  const canvas = document.getElementById('hourly-chart');
  const source = document.getElementById('hourly-data');
  if (!canvas || !source) return;
  const series = JSON.parse(source.textContent);
  new Chart(canvas, {
    type: 'bar',
    data: {
      labels: series.labels,
      datasets: [
        { label: 'Modtaget', data: series.received, backgroundColor: '#2f6f9f' },
        { label: 'Sendt', data: series.sent, backgroundColor: '#e39b3b' },
      ],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: {
        x: { title: { display: true, text: 'Time' } },
        y: { beginAtZero: true, ticks: { precision: 0 } },
      },
    },
  });
})();
