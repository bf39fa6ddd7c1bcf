// Chart pieces shared by the job, trial and compare pages (plotly.js, served by this server).
"use strict";

const charts = (() => {
  const ACCENT = "#e4572e";
  const COLORS = ["#e4572e", "#2f6fdb", "#2e9e5b", "#7a4fc9", "#d9902f", "#17a2b8", "#6b7385"];
  const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  const FONT = { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#1d2330" };

  function axisTitle(objective) {
    return `${objective.metric} (${objective.direction === "maximize" ? "higher" : "lower"} is better)`;
  }

  function layout(extra = {}) {
    return {
      margin: { l: 70, r: 20, t: 10, b: 55 },
      font: FONT,
      paper_bgcolor: "#fff",
      plot_bgcolor: "#fff",
      hovermode: "closest",
      hoverlabel: { align: "left" },
      legend: { orientation: "h", x: 0, y: 1.08 },
      ...extra,
    };
  }

  function axis(title) {
    return { title: { text: title }, gridcolor: "#eceff4", zerolinecolor: "#dfe3ea", automargin: true };
  }

  // Hover text per point: trial number, each objective, then the architecture summary.
  function hoverTexts(set, objectives) {
    return set.numbers.map((number, i) => [
      `<b>trial ${number}</b>`,
      ...objectives.map((o, k) => `${o.metric}: ${supernas.fmt(set.values[k][i])}`),
      set.hover[i],
    ].join("<br>"));
  }

  // The set's points ordered by objective k (a front is drawn as a line through its sorted points).
  function sorted(set, k) {
    const order = set.numbers.map((_, i) => i).sort((a, b) => set.values[k][a] - set.values[k][b]);
    return {
      numbers: order.map((i) => set.numbers[i]),
      values: set.values.map((column) => order.map((i) => column[i])),
      hover: order.map((i) => set.hover[i]),
    };
  }

  function label(name, shown, total) {
    return shown < total ? `${name} (${shown} of ${total} shown)` : `${name} (${total})`;
  }

  // Dominated (faint), infeasible (faint crosses) and front (highlighted, joined) traces of a job's
  // plot data on objectives xi, yi, and zi when given (3D).
  function frontTraces(plot, xi, yi, zi = null) {
    const three = zi !== null;
    const trace = (set, extra) => ({
      type: three ? "scatter3d" : "scattergl",
      x: set.values[xi],
      y: set.values[yi],
      ...(three ? { z: set.values[zi] } : {}),
      customdata: set.numbers,
      hovertext: hoverTexts(set, plot.objectives),
      hoverinfo: "text",
      ...extra,
    });
    const front = sorted(plot.front, xi);
    return [
      trace(plot.dominated, {
        name: label("dominated", plot.dominated.numbers.length, plot.dominated_total),
        mode: "markers",
        marker: { color: "rgba(107, 115, 133, 0.3)", size: three ? 3 : 6 },
      }),
      trace(plot.infeasible, {
        name: label("infeasible", plot.infeasible.numbers.length, plot.infeasible_total),
        mode: "markers",
        marker: { color: "rgba(200, 65, 47, 0.3)", size: three ? 3 : 7, symbol: three ? "x" : "x-thin-open" },
      }),
      trace(front, {
        name: `Pareto front (${front.numbers.length})`,
        mode: three ? "markers" : "lines+markers",
        line: { color: ACCENT, width: 2 },
        marker: { color: ACCENT, size: three ? 5 : 10, line: { color: "#fff", width: 1 } },
      }),
    ];
  }

  // Verified front trials: each objective re-measured on the trial's checkpoint, drawn as an open marker
  // beside the searched point with a thin line from searched to measured. Deterministic objectives land
  // on the searched point; measured ones (latency) move by their noise.
  function verifiedTraces(plot, xi, yi, zi = null) {
    const v = plot.verified;
    if (!v || !v.numbers.length) return [];
    const three = zi !== null;
    const axes = three ? [xi, yi, zi] : [xi, yi];
    const keep = v.numbers.map((_, i) => i).filter((i) => axes.every((k) => v.measured[k][i] !== null));
    if (!keep.length) return [];
    const error = (k, i) => {
      const s = v.searched[k][i];
      const m = v.measured[k][i];
      return s === 0 ? Math.abs(m - s) : Math.abs(m - s) / Math.abs(s);
    };
    const hover = keep.map((i) => [
      `<b>trial ${v.numbers[i]}</b> verified on its checkpoint`,
      ...plot.objectives.map((o, k) => v.measured[k][i] === null
        ? `${o.metric}: not re-measured`
        : `${o.metric}: ${supernas.fmt(v.measured[k][i])} (searched ${supernas.fmt(v.searched[k][i])}, error ${(100 * error(k, i)).toPrecision(2)}%)`),
    ].join("<br>"));
    const column = (source, k) => keep.map((i) => source[k][i]);
    const markers = {
      type: three ? "scatter3d" : "scattergl",
      mode: "markers",
      name: `verified on checkpoint (${keep.length})`,
      x: column(v.measured, xi),
      y: column(v.measured, yi),
      ...(three ? { z: column(v.measured, zi) } : {}),
      customdata: keep.map((i) => v.numbers[i]),
      hovertext: hover,
      hoverinfo: "text",
      marker: { symbol: three ? "circle-open" : "circle-open", size: three ? 7 : 14, color: "#1d2330", line: { width: 2 } },
    };
    if (three) return [markers];
    const join = (k) => keep.flatMap((i) => [v.searched[k][i], v.measured[k][i], null]);
    const lines = {
      type: "scatter",
      mode: "lines",
      name: "searched → measured",
      x: join(xi),
      y: join(yi),
      hoverinfo: "skip",
      showlegend: false,
      line: { color: "#1d2330", width: 1 },
    };
    return [lines, markers];
  }

  function frontLayout(objectives, xi, yi, zi = null) {
    if (zi === null) return layout({ xaxis: axis(axisTitle(objectives[xi])), yaxis: axis(axisTitle(objectives[yi])) });
    return layout({
      margin: { l: 0, r: 0, t: 10, b: 0 },
      scene: {
        xaxis: { title: { text: objectives[xi].metric } },
        yaxis: { title: { text: objectives[yi].metric } },
        zaxis: { title: { text: objectives[zi].metric } },
      },
    });
  }

  function fillAxisSelect(select, objectives, selected) {
    select.replaceChildren(...objectives.map((o, i) => supernas.el("option", { value: i, selected: i === selected }, o.metric)));
  }

  // Clicking a point opens its trial: customdata holds trial numbers, urlFor(trace, number) the page.
  function onPointClick(div, urlFor) {
    div.on("plotly_click", (event) => {
      const point = event.points[0];
      if (point && point.customdata !== undefined) window.location.href = urlFor(point.data, point.customdata);
    });
  }

  return {
    ACCENT, COLORS, CONFIG, axis, axisTitle, layout, hoverTexts, sorted, frontTraces, verifiedTraces, frontLayout, fillAxisSelect,
    onPointClick,
  };
})();
