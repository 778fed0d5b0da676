// Draws the dashboard's charts from the JSON the server embedded in the page. No inline
// script: the page's Content-Security-Policy allows scripts from this origin only.
(function () {
  "use strict";
  const source = document.getElementById("data-grafik");
  if (!source || typeof Chart === "undefined") {
    return;
  }
  const data = JSON.parse(source.textContent);
  const green = "#0b6e4f";
  const pale = "#7fb8a4";
  const dark = "#1c2430";
  const percent = (v) => (v === null ? "–" : (v * 100).toFixed(1).replace(".", ",") + "%");
  const percentAxis = {
    min: 0,
    max: 1,
    ticks: { callback: (v) => Math.round(v * 100) + "%" },
  };

  const rank = document.getElementById("grafik-peringkat");
  if (rank) {
    const rows = data.peringkat.slice();
    if (data.total !== null) {
      rows.push({ kode: "KABUPATEN", nama: "Total kabupaten", rate: data.total, total: true });
      rows.sort((a, b) => b.rate - a.rate);
    }
    document.getElementById("wadah-peringkat").style.height = Math.max(160, rows.length * 22 + 60) + "px";
    new Chart(rank, {
      type: "bar",
      data: {
        labels: rows.map((r) => r.kode),
        datasets: [{
          label: "Tingkat partisipasi",
          data: rows.map((r) => r.rate),
          backgroundColor: rows.map((r) => (r.total ? dark : green)),
        }],
      },
      options: {
        indexAxis: "y",
        maintainAspectRatio: false,
        animation: false,
        scales: { x: percentAxis, y: { ticks: { autoSkip: false } } },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: (items) => rows[items[0].dataIndex].nama,
              label: (item) => percent(item.raw),
            },
          },
        },
      },
    });
  }

  const trend = document.getElementById("grafik-tren");
  if (trend) {
    new Chart(trend, {
      data: {
        labels: data.tren.labels,
        datasets: [
          {
            type: "line",
            label: "Tingkat partisipasi",
            data: data.tren.rates,
            borderColor: green,
            backgroundColor: green,
            yAxisID: "rate",
            spanGaps: false,
          },
          {
            type: "bar",
            label: "Terkirim (diukur)",
            data: data.tren.delivered,
            backgroundColor: "#d9dee5",
            yAxisID: "count",
          },
        ],
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        scales: {
          rate: Object.assign({ position: "left" }, percentAxis),
          count: {
            position: "right",
            beginAtZero: true,
            ticks: { precision: 0 },
            grid: { drawOnChartArea: false },
          },
        },
        plugins: {
          tooltip: {
            callbacks: {
              label: (item) => item.dataset.yAxisID === "rate"
                ? "Partisipasi: " + percent(item.raw)
                : "Terkirim: " + item.raw.toLocaleString("id-ID"),
            },
          },
        },
      },
    });
  }

  const funnel = document.getElementById("grafik-corong");
  if (funnel) {
    new Chart(funnel, {
      type: "bar",
      data: {
        labels: ["Roster", "Terdaftar", "Menerima", "Berpartisipasi"],
        datasets: [{
          label: "Orang",
          data: data.corong,
          backgroundColor: [dark, green, pale, green],
        }],
      },
      options: {
        indexAxis: "y",
        maintainAspectRatio: false,
        animation: false,
        scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { display: false } },
      },
    });
  }

  // OPD publishing activity per ISO week: submitted (by admins, by feeds) and approved.
  const published = document.getElementById("grafik-aktivitas");
  if (published && data.aktivitas) {
    new Chart(published, {
      type: "bar",
      data: {
        labels: data.aktivitas.labels,
        datasets: [
          { label: "Diajukan admin", data: data.aktivitas.admin, backgroundColor: green, stack: "diajukan" },
          { label: "Dari feed", data: data.aktivitas.feed, backgroundColor: pale, stack: "diajukan" },
          { label: "Disetujui", data: data.aktivitas.disetujui, backgroundColor: dark, stack: "disetujui" },
        ],
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
  }
})();
