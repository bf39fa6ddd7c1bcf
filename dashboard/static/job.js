// Job page: front, parallel coordinates, hypervolume and trials, polled every 2 s while the job runs.
"use strict";

(() => {
  const { el, badge, json, ACTIVE } = supernas;
  const jobId = document.body.dataset.jobId;
  const $ = (id) => document.getElementById(id);
  const state = { evaluated: -1, plot: null, axesReady: false, clickReady: false };
  const table = { sort: "number", order: "asc", offset: 0, limit: 50 };
  const PARCOORDS_DOMINATED = 500;

  // ---------- header

  function bounds(c) {
    const parts = [];
    if (c.min !== null) parts.push(`≥ ${supernas.fmtIn(c.min, c.unit)}`);
    if (c.max !== null) parts.push(`≤ ${supernas.fmtIn(c.max, c.unit)}`);
    return `${c.metric} ${parts.join(" and ")}`;
  }

  function renderHeader(job) {
    $("job-status").replaceWith(Object.assign(badge(job.status), { id: "job-status" }));
    const spec = job.spec;
    const strategy = typeof spec.strategy === "string" ? spec.strategy : (spec.strategy || {}).name;
    $("job-meta").replaceChildren(
      el("span", {}, `space ${job.space}`),
      el("span", {}, `strategy ${strategy}`),
      el("span", {}, `objectives ${job.objectives.map((o) => supernas.metricTitle(o.metric, o.unit, o.direction)).join(", ")}`),
      el("span", { id: "job-constraints" }, job.constraints.length ? `constraints ${job.constraints.map(bounds).join(", ")}` : "no constraints"),
      el("span", {}, `${job.complete} complete · ${job.infeasible} infeasible · ${job.failed} failed`),
      el("span", { id: "job-hv" }, supernas.hypervolumeText(job)),
      $("job-verified") || el("span", { id: "job-verified" }),
    );
    $("job-error").textContent = job.error || "";
    supernas.setProgress($("job-progress"), job.evaluated, job.budget_trials, job.status === "completed");
    $("cancel").hidden = !ACTIVE.has(job.status);
    $("resume").hidden = !["stopped", "failed"].includes(job.status);
  }

  // "verified 3 of 8 front points; worst latency_ms +26% (trial 7): some errors are beyond their noise"
  function renderVerified(plot) {
    const v = plot.verified;
    const node = $("job-verified");
    if (!v.numbers.length) {
      node.textContent = "no front point verified";
      node.className = "";
      return;
    }
    let worst = null;
    v.errors.forEach((column, k) => column.forEach((error, i) => {
      if (error !== null && (worst === null || error > worst.error)) worst = { error, k, i };
    }));
    const off = v.within_noise.some((column) => column.includes(false));
    let text = `verified ${v.numbers.length} of ${plot.front.numbers.length} front points`;
    if (worst) {
      const value = { error: worst.error, searched: v.searched[worst.k][worst.i], measured: v.measured[worst.k][worst.i] };
      text += `; worst ${plot.objectives[worst.k].metric} ${charts.signedError(value)} (trial ${v.numbers[worst.i]})`;
    }
    node.textContent = text + (off ? ": some errors are beyond their noise" : ", all within noise");
    node.className = off ? "warn" : "";
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
    charts.initAxisControls(objectives, drawFront);
    state.axesReady = true;
  }

  function drawFront() {
    const plot = state.plot;
    const { xi, yi, zi } = charts.selectedAxes(plot.objectives);
    const layout = charts.frontLayout(plot, state.job.constraints, xi, yi, zi);
    layout.uirevision = `${xi}-${yi}-${zi}`; // keep the user's zoom across live updates
    charts.drawFrontChart($("front"), [...charts.frontTraces(plot, xi, yi, zi), ...charts.verifiedTraces(plot, xi, yi, zi)], layout, zi !== null);
    if (!state.clickReady) {
      charts.onPointClick($("front"), (_, number) => `/jobs/${jobId}/trials/${number}`);
      state.clickReady = true;
    }
    const thinned = plot.dominated.numbers.length < plot.dominated_total || plot.infeasible.numbers.length < plot.infeasible_total;
    const verified = plot.verified.numbers.length;
    const colour = zi === null && plot.objectives.length === 3;
    $("front-note").textContent = (thinned ? "Dominated and infeasible trials are thinned evenly for speed; the front is complete. " : "")
      + (colour ? "Colour: the third objective (a 2D view of a 3-objective front is a projection, so its points are not joined). " : "")
      + (state.job.constraints.length ? "Dashed lines: constraints (the shaded side is infeasible). " : "")
      + (verified ? `Open circles: ${verified} front trial${verified === 1 ? "" : "s"} re-measured on ${verified === 1 ? "its" : "their"} `
        + "extracted checkpoint (`supernas verify`), joined to the searched point. " : "")
      + "Click a point to open its trial.";
    renderVerified(plot);
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
      ...plot.objectives.map((o, k) => ({ label: charts.axisTitle(o), values: column((set) => set.values[k]) })),
    ];
    const color = sets.flatMap((set, i) => set.numbers.map(() => i));
    const trace = {
      type: "parcoords",
      dimensions,
      line: { color, cmin: 0, cmax: 1, colorscale: [[0, "rgba(107, 115, 133, 0.25)"], [1, charts.ACCENT]] },
      labelfont: { size: 11 },
      tickfont: { size: 10 },
      labelangle: -20, // long labels (metrics with units) lean instead of running into each other
      labelside: "top",
    };
    // the chart is as wide as its axes need (its panel scrolls on a narrow screen); the top margin is taller
    // than the toolbar, and room right of the last axis keeps its label in
    $("parcoords").style.minWidth = `${110 * dimensions.length}px`;
    Plotly.react("parcoords", [trace], charts.layout({ margin: { l: 60, r: 110, t: 90, b: 15 } }), charts.CONFIG);
  }

  function drawHypervolume(history, job) {
    const trace = {
      type: "scatter",
      mode: "lines+markers",
      x: history.map((p) => p.evaluated),
      y: history.map((p) => p.hypervolume),
      line: { shape: "hv", color: "#2f6fdb", width: 2 },
      marker: { size: 5 },
      hovertemplate: `after %{x} trials: %{y:.5g} ${supernas.volumeUnit(job.objectives)}<extra></extra>`,
    };
    const empty = history.length ? [] : [{
      text: "no hypervolume yet:<br>the reference point is fixed<br>once 10 feasible trials exist",
      showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5, font: { color: "#6b7385" },
    }];
    const shown = history.length > 0; // no axes around the empty chart's note
    const layout = charts.layout({
      xaxis: { ...charts.axis("evaluated trials"), visible: shown },
      yaxis: { ...charts.axis("hypervolume ↑"), visible: shown },
      showlegend: false, annotations: empty,
    });
    Plotly.react("hypervolume", [trace], layout, charts.CONFIG);
    $("hypervolume-note").textContent = job.hypervolume === null ? ""
      : `In ${supernas.volumeUnit(job.objectives)}, the volume between the front and the reference point `
        + `(${job.reference.map((r, k) => supernas.fmtIn(r, job.objectives[k].unit)).join(", ")}).`;
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

  // Each verified metric's error: neutral within its noise, a warning naming the metric beyond it.
  function verifiedCell(trial) {
    const v = trial.verification;
    if (!v) return "";
    const distilled = v.weights === "distilled"; // differs from the searched values by design
    const chips = state.job.metrics.filter((m) => v.values[m]).map((m) => {
      const value = v.values[m];
      const off = !distilled && value.within_noise === false;
      const noise = value.noise === null ? "no noise measured" : `noise ${charts.relativeError(value.noise)}`;
      return el("span", {
        class: off ? "check off" : "check",
        "data-metric": m,
        title: `${m}: measured ${supernas.fmtIn(value.measured, state.job.units[m])}, searched ${supernas.fmtIn(value.searched, state.job.units[m])}`
          + ` (${noise}${off ? "; beyond it" : ""})`,
      }, `${off ? "⚠ " : ""}${m} ${charts.signedError(value)}`);
    });
    return [distilled ? el("span", { class: "check" }, "distilled:") : null, ...chips];
  }

  function metricHeader(m) {
    const objective = state.job.objectives.find((o) => o.metric === m);
    return sortHeader(m, supernas.metricTitle(m, state.job.units[m], objective && objective.direction), true);
  }

  async function loadTable(metrics = state.metrics) {
    state.metrics = metrics;
    const params = new URLSearchParams({ sort: table.sort, order: table.order, offset: table.offset, limit: table.limit });
    if ($("filter-state").value) params.append("state", $("filter-state").value);
    if ($("filter-front").checked) params.append("on_front", "true");
    const page = await json(`/api/jobs/${jobId}/trials?${params}`);
    $("trials").querySelector("thead").replaceChildren(el("tr", {},
      sortHeader("number", "#", true), el("th", {}, "state"), el("th", {}, "front"),
      ...metrics.map(metricHeader),
      el("th", { title: "each metric re-measured on the trial's checkpoint: its relative error (⚠ beyond its noise)" }, "verified"),
      el("th", {}, "architecture"), el("th", { class: "num" }, "seconds")));
    $("trials").querySelector("tbody").replaceChildren(...page.items.map((t) => el("tr", {},
      el("td", { class: "num" }, el("a", { href: `/jobs/${jobId}/trials/${t.number}` }, t.number)),
      el("td", { title: t.error || "" }, badge(t.state)),
      el("td", {}, t.on_front ? el("span", { class: "badge front" }, "front") : ""),
      ...metrics.map((m) => el("td", { class: "num" }, supernas.fmtIn(t.values ? t.values[m] : null, state.job.units[m]))),
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
    state.job = job;
    renderHeader(job);
    const waiting = job.evaluated === 0; // no axes to draw yet
    $("waiting").hidden = !waiting;
    for (const id of ["front-panel", "charts-row"]) $(id).hidden = waiting;
    if (waiting) {
      $("waiting").textContent = ACTIVE.has(job.status) ? "Waiting for the first trial…" : "No trial was evaluated.";
      await loadTable(job.metrics);
    } else if (job.evaluated !== state.evaluated || !state.plot) {
      const [plot, history] = await Promise.all([json(`/api/jobs/${jobId}/plot`), json(`/api/jobs/${jobId}/hypervolume`)]);
      state.plot = plot;
      state.evaluated = job.evaluated;
      initAxes(plot.objectives);
      drawFront();
      drawHypervolume(history, job);
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
