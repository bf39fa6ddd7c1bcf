// Compare page: the Pareto fronts of two or more jobs on one chart, on objectives they share.
"use strict";

(() => {
  const { el, json } = supernas;
  const ids = document.body.dataset.jobIds.split(",");
  const $ = (id) => document.getElementById(id);

  function draw(jobs, fronts, shared) {
    const xi = Number($("axis-x").value);
    const yi = Number($("axis-y").value);
    const [x, y] = [shared[xi].metric, shared[yi].metric];
    const traces = jobs.map((job, j) => {
      const front = fronts[j].slice().sort((a, b) => a.values[x] - b.values[x]);
      const color = charts.COLORS[j % charts.COLORS.length];
      return {
        type: "scattergl",
        mode: "lines+markers",
        name: `job ${job.id}: ${job.name} (${front.length})`,
        x: front.map((t) => t.values[x]),
        y: front.map((t) => t.values[y]),
        customdata: front.map((t) => t.number),
        meta: job.id,
        hovertext: front.map((t) => `<b>job ${job.id}, trial ${t.number}</b><br>${x}: ${supernas.fmt(t.values[x])}`
          + `<br>${y}: ${supernas.fmt(t.values[y])}<br>${t.summary}`),
        hoverinfo: "text",
        line: { color, width: 2 },
        marker: { color, size: 9, line: { color: "#fff", width: 1 } },
      };
    });
    const layout = charts.layout({ xaxis: charts.axis(charts.axisTitle(shared[xi])), yaxis: charts.axis(charts.axisTitle(shared[yi])) });
    Plotly.react("front", traces, layout, charts.CONFIG);
  }

  (async () => {
    try {
      const jobs = await Promise.all(ids.map((id) => json(`/api/jobs/${id}`)));
      const fronts = await Promise.all(ids.map((id) => json(`/api/jobs/${id}/front`)));
      $("compare-meta").replaceChildren(...jobs.map((job) => el("span", {},
        el("a", { href: `/jobs/${job.id}` }, `job ${job.id}: ${job.name}`), ` · ${job.space} · ${job.status}`)));
      // objectives every job has, with the same direction
      const shared = jobs[0].objectives.filter((o) => jobs.every((job) => job.objectives.some((p) => p.metric === o.metric && p.direction === o.direction)));
      if (shared.length < 2) {
        $("compare-error").textContent = "These jobs share fewer than two objectives: there is no common chart to draw.";
        return;
      }
      charts.fillAxisSelect($("axis-x"), shared, 0);
      charts.fillAxisSelect($("axis-y"), shared, 1);
      const redraw = () => draw(jobs, fronts, shared);
      $("axis-x").addEventListener("change", redraw);
      $("axis-y").addEventListener("change", redraw);
      redraw();
      charts.onPointClick($("front"), (trace, number) => `/jobs/${trace.meta}/trials/${number}`);
    } catch (error) {
      $("compare-error").textContent = error.message;
    }
  })();
})();
