// Compare page: the Pareto fronts of two or more jobs on one chart, on objectives they share.
"use strict";

(() => {
  const { el, json } = supernas;
  const ids = document.body.dataset.jobIds.split(",");
  const $ = (id) => document.getElementById(id);
  const key = (o) => `${o.metric} ${o.direction}`;

  // The jobs to chart: the most jobs that share two objectives (same metric and direction), and those
  // objectives; the rest are left out, each with its reason.
  function chooseJobs(jobs) {
    const all = [...new Map(jobs.flatMap((job) => job.objectives.map((o) => [key(o), o]))).values()];
    let best = { kept: [], shared: [] };
    for (let a = 0; a < all.length; a++) {
      for (let b = a + 1; b < all.length; b++) {
        const pair = [key(all[a]), key(all[b])];
        const kept = jobs.filter((job) => pair.every((k) => job.objectives.some((o) => key(o) === k)));
        if (kept.length > best.kept.length) {
          const shared = kept[0].objectives.filter((o) => kept.every((job) => job.objectives.some((p) => key(p) === key(o))));
          best = { kept, shared };
        }
      }
    }
    const objectives = (job) => job.objectives.map((o) => supernas.metricTitle(o.metric, o.unit, o.direction)).join(", ");
    const left = jobs.filter((job) => !best.kept.includes(job)).map((job) => `job ${job.id} (${job.name}) left out: its objectives `
      + `(${objectives(job)}) do not include the chart's ${best.shared.map((o) => o.metric).join(" and ")}`);
    return { ...best, left };
  }

  function draw(jobs, fronts, shared) {
    const xi = Number($("axis-x").value);
    const yi = Number($("axis-y").value);
    const [x, y] = [shared[xi], shared[yi]];
    const traces = jobs.map((job, j) => {
      const front = fronts[j].slice().sort((a, b) => a.values[x.metric] - b.values[x.metric]);
      const color = charts.COLORS[j % charts.COLORS.length];
      return {
        type: "scattergl",
        mode: "lines+markers",
        name: `job ${job.id}: ${job.name} (${front.length})`,
        x: front.map((t) => t.values[x.metric]),
        y: front.map((t) => t.values[y.metric]),
        customdata: front.map((t) => t.number),
        meta: job.id,
        hovertext: front.map((t) => `<b>job ${job.id}, trial ${t.number}</b><br>${x.metric}: ${supernas.fmtIn(t.values[x.metric], x.unit)}`
          + `<br>${y.metric}: ${supernas.fmtIn(t.values[y.metric], y.unit)}<br>${t.summary}`),
        hoverinfo: "text",
        line: { color, width: 2 },
        marker: { color, size: 9, line: { color: "#fff", width: 1 } },
      };
    });
    const layout = charts.layout({ xaxis: charts.axis(charts.axisTitle(x), x.unit), yaxis: charts.axis(charts.axisTitle(y), y.unit) });
    Plotly.react("front", traces, layout, charts.CONFIG);
  }

  (async () => {
    try {
      const all = await Promise.all(ids.map((id) => json(`/api/jobs/${id}`)));
      $("compare-meta").replaceChildren(...all.map((job) => el("span", {},
        el("a", { href: `/jobs/${job.id}` }, `job ${job.id}: ${job.name}`), ` · ${job.space} · ${job.status}`)));
      const { kept, shared, left } = chooseJobs(all);
      $("compare-left-out").replaceChildren(...left.map((line) => el("li", {}, line)));
      if (kept.length < 2) {
        $("compare-error").textContent = "No two of these jobs share two objectives: there is no common chart to draw.";
        document.body.dataset.loaded = "true";
        return;
      }
      const fronts = await Promise.all(kept.map((job) => json(`/api/jobs/${job.id}/front`)));
      charts.fillAxisSelect($("axis-x"), shared, 0);
      charts.fillAxisSelect($("axis-y"), shared, 1);
      const redraw = () => draw(kept, fronts, shared);
      $("axis-x").addEventListener("change", redraw);
      $("axis-y").addEventListener("change", redraw);
      redraw();
      charts.onPointClick($("front"), (trace, number) => `/jobs/${trace.meta}/trials/${number}`);
    } catch (error) {
      $("compare-error").textContent = error.message;
    }
    document.body.dataset.loaded = "true";
  })();
})();
