// Job page: front, parallel coordinates, hypervolume and trials, polled every 2 s while the job runs.
"use strict";

(() => {
  const { el, fmt, badge, json, ACTIVE } = supernas;
  const jobId = document.body.dataset.jobId;
  const $ = (id) => document.getElementById(id);
  const state = { evaluated: -1, plot: null, axesReady: false, clickReady: false };
  const table = { sort: "number", order: "asc", offset: 0, limit: 50 };
  const PARCOORDS_DOMINATED = 500;

  // ---------- header

  function renderHeader(job) {
    $("job-status").replaceWith(Object.assign(badge(job.status), { id: "job-status" }));
    const spec = job.spec;
    const strategy = typeof spec.strategy === "string" ? spec.strategy : (spec.strategy || {}).name;
    $("job-meta").replaceChildren(
      el("span", {}, `space ${job.space}`),
      el("span", {}, `strategy ${strategy}`),
      el("span", {}, `objectives ${job.objectives.map((o) => o.metric).join(", ")}`),
      el("span", {}, `${job.complete} complete · ${job.infeasible} infeasible · ${job.failed} failed`),
      el("span", { id: "job-hv" }, `hypervolume ${fmt(job.hypervolume)}`),
    );
    $("job-error").textContent = job.error || "";
    supernas.setProgress($("job-progress"), job.evaluated, job.budget_trials, job.status === "completed");
    $("cancel").hidden = !ACTIVE.has(job.status);
    $("resume").hidden = !["stopped", "failed"].includes(job.status);
  }

  async function act(action) {
    $("job-error").textContent = "";
    try {
      await json(`/api/jobs/${jobId}/${action}`, { method: "POST" });
    } catch (error) {
      $("job-error").textContent = `${action}: ${error.message}`;
    }
    refresh();
  }
  $("cancel").addEventListener("click", () => act("cancel"));
  $("resume").addEventListener("click", () => act("resume"));

  // ---------- Pareto front

  function initAxes(objectives) {
    if (state.axesReady) return;
    charts.fillAxisSelect($("axis-x"), objectives, 0);
    charts.fillAxisSelect($("axis-y"), objectives, 1);
    if (objectives.length === 3) {
      charts.fillAxisSelect($("axis-z"), objectives, 2);
      $("axis-z-label").hidden = false;
      $("three-d-label").hidden = false;
    }
    for (const id of ["axis-x", "axis-y", "axis-z", "three-d"]) $(id).addEventListener("change", drawFront);
    state.axesReady = true;
  }

  function drawFront() {
    const plot = state.plot;
    const xi = Number($("axis-x").value);
    const yi = Number($("axis-y").value);
    const zi = plot.objectives.length === 3 && $("three-d").checked ? Number($("axis-z").value) : null;
    const layout = charts.frontLayout(plot.objectives, xi, yi, zi);
    layout.uirevision = `${xi}-${yi}-${zi}`; // keep the user's zoom across live updates
    Plotly.react("front", [...charts.frontTraces(plot, xi, yi, zi), ...charts.verifiedTraces(plot, xi, yi, zi)], layout, charts.CONFIG);
    if (!state.clickReady) {
      charts.onPointClick($("front"), (_, number) => `/jobs/${jobId}/trials/${number}`);
      state.clickReady = true;
    }
    const thinned = plot.dominated.numbers.length < plot.dominated_total || plot.infeasible.numbers.length < plot.infeasible_total;
    const verified = plot.verified.numbers.length;
    $("front-note").textContent = (thinned ? "Dominated and infeasible trials are thinned evenly for speed; the front is complete. " : "")
      + (verified ? `Open circles: ${verified} front trial${verified === 1 ? "" : "s"} re-measured on ${verified === 1 ? "its" : "their"} `
        + "extracted checkpoint (`supernas verify`), joined to the searched point. " : "")
      + "Click a point to open its trial.";
  }

  // ---------- architectures vs objectives, hypervolume

  // Every k-th point of a set, at most `cap`: parallel coordinates cost a WebGL line per trial.
  function thinned(set, cap) {
    const k = Math.max(1, Math.ceil(set.numbers.length / cap));
    if (k === 1) return set;
    const every = (column) => column.filter((_, i) => i % k === 0);
    return { numbers: every(set.numbers), values: set.values.map(every), dims: set.dims.map(every) };
  }

  function drawParcoords() {
    const plot = state.plot;
    const sets = [thinned(plot.dominated, PARCOORDS_DOMINATED), plot.front]; // the front last, drawn on top
    const column = (pick) => sets.flatMap((set) => pick(set));
    const dimensions = [
      ...plot.dimensions.map((label, j) => ({ label, values: column((set) => set.dims[j]) })),
      ...plot.objectives.map((o, k) => ({ label: o.metric, values: column((set) => set.values[k]) })),
    ];
    const color = sets.flatMap((set, i) => set.numbers.map(() => i));
    const trace = {
      type: "parcoords",
      dimensions,
      line: { color, cmin: 0, cmax: 1, colorscale: [[0, "rgba(107, 115, 133, 0.25)"], [1, charts.ACCENT]] },
      labelfont: { size: 11 },
      tickfont: { size: 10 },
    };
    // labels sit above the axes: a top margin taller than the toolbar and room right of the last axis keep them apart
    Plotly.react("parcoords", [trace], charts.layout({ margin: { l: 60, r: 90, t: 80, b: 15 } }), charts.CONFIG);
  }

  function drawHypervolume(history) {
    const trace = {
      type: "scatter",
      mode: "lines+markers",
      x: history.map((p) => p.evaluated),
      y: history.map((p) => p.hypervolume),
      line: { shape: "hv", color: "#2f6fdb", width: 2 },
      marker: { size: 5 },
      hovertemplate: "after %{x} trials: %{y:.5g}<extra></extra>",
    };
    const empty = history.length ? [] : [{
      text: "no hypervolume yet: the reference point is fixed once 10 feasible trials exist",
      showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5, font: { color: "#6b7385" },
    }];
    const shown = history.length > 0; // no axes around the empty chart's note
    const layout = charts.layout({
      xaxis: { ...charts.axis("evaluated trials"), visible: shown }, yaxis: { ...charts.axis("hypervolume"), visible: shown },
      showlegend: false, annotations: empty,
    });
    Plotly.react("hypervolume", [trace], layout, charts.CONFIG);
  }

  // ---------- trials table

  function sortHeader(key, text, numeric) {
    const active = table.sort === key;
    const arrow = active ? (table.order === "asc" ? " ▲" : " ▼") : "";
    const button = el("button", { class: active ? "sort active" : "sort", "data-sort": key }, text + arrow);
    button.addEventListener("click", () => {
      table.order = active && table.order === "asc" ? "desc" : "asc";
      table.sort = key;
      table.offset = 0;
      loadTable();
    });
    return el("th", { class: numeric ? "num" : null }, button);
  }

  // "✓ 3.1%": the trial was verified; its objectives' largest relative error (searched vs checkpoint).
  function verifiedCell(trial) {
    const v = trial.verification;
    if (!v) return "";
    const errors = state.plot.objectives.map((o) => v.values[o.metric]).filter((x) => x && x.error !== null).map((x) => x.error);
    const worst = errors.length ? Math.max(...errors) : null;
    const text = worst === null ? "✓" : `✓ ${worst === 0 ? "0" : worst < 1e-3 ? worst.toExponential(1) : `${(100 * worst).toPrecision(2)}%`}`;
    return el("span", { title: `verified ${new Date(v.verified_at).toLocaleString()}; largest relative error of the objectives` }, text);
  }

  async function loadTable(metrics = state.metrics) {
    state.metrics = metrics;
    const params = new URLSearchParams({ sort: table.sort, order: table.order, offset: table.offset, limit: table.limit });
    if ($("filter-state").value) params.append("state", $("filter-state").value);
    if ($("filter-front").checked) params.append("on_front", "true");
    const page = await json(`/api/jobs/${jobId}/trials?${params}`);
    $("trials").querySelector("thead").replaceChildren(el("tr", {},
      sortHeader("number", "#", true), el("th", {}, "state"), el("th", {}, "front"),
      ...metrics.map((m) => sortHeader(m, m, true)),
      el("th", { title: "largest relative error of the objectives re-measured on the trial's checkpoint" }, "verified"),
      el("th", {}, "architecture"), el("th", { class: "num" }, "seconds")));
    $("trials").querySelector("tbody").replaceChildren(...page.items.map((t) => el("tr", {},
      el("td", { class: "num" }, el("a", { href: `/jobs/${jobId}/trials/${t.number}` }, t.number)),
      el("td", { title: t.error || "" }, badge(t.state)),
      el("td", {}, t.on_front ? el("span", { class: "badge front" }, "front") : ""),
      ...metrics.map((m) => el("td", { class: "num" }, fmt(t.values ? t.values[m] : null))),
      el("td", { class: "verified" }, verifiedCell(t)),
      el("td", { class: "muted" }, t.summary),
      el("td", { class: "num muted" }, t.duration_s === null ? "–" : t.duration_s.toFixed(2)))));
    const last = table.offset + page.items.length;
    $("page-label").textContent = page.total ? `${table.offset + 1}–${last} of ${page.total}` : "no trials";
    $("page-prev").disabled = table.offset === 0;
    $("page-next").disabled = last >= page.total;
  }

  $("page-prev").addEventListener("click", () => { table.offset = Math.max(0, table.offset - table.limit); loadTable(); });
  $("page-next").addEventListener("click", () => { table.offset += table.limit; loadTable(); });
  for (const id of ["filter-state", "filter-front"]) {
    $(id).addEventListener("change", () => { table.offset = 0; loadTable(); });
  }

  // ---------- live updates

  async function update() {
    const job = await json(`/api/jobs/${jobId}`);
    renderHeader(job);
    if (job.evaluated !== state.evaluated || !state.plot) {
      const [plot, history] = await Promise.all([json(`/api/jobs/${jobId}/plot`), json(`/api/jobs/${jobId}/hypervolume`)]);
      state.plot = plot;
      state.evaluated = job.evaluated;
      initAxes(plot.objectives);
      drawFront();
      drawHypervolume(history);
      await loadTable(job.metrics);
      // once the front and the table are painted (the frame after this one): this chart is the slowest
      requestAnimationFrame(() => setTimeout(() => {
        drawParcoords();
        document.body.dataset.charts = String(job.evaluated);
        performance.mark("supernas:charts"); // every chart drawn (benchmarks/dashboard.py reads the marks)
      }));
    } else if (ACTIVE.has(job.status)) {
      await loadTable(job.metrics); // running and queued trials change without new evaluations
    }
    document.body.dataset.loaded = "true";
    performance.mark("supernas:loaded"); // header, front, hypervolume and table drawn
    return ACTIVE.has(job.status);
  }

  const refresh = supernas.poll(update);
})();
