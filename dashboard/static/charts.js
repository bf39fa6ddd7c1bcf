// Chart pieces shared by the job, trial and compare pages (plotly.js, served by this server).
"use strict";

const charts = (() => {
  const ACCENT = "#e4572e";
  const RED = "#c8412f";
  const COLORS = ["#e4572e", "#2f6fdb", "#2e9e5b", "#7a4fc9", "#d9902f", "#17a2b8", "#6b7385"];
  const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  const FONT = { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#1d2330" };
  // below the plot: a legend on top would sit under the toolbar on a narrow screen
  const LEGEND = { orientation: "h", x: 0, xanchor: "left", yref: "container", y: 0, yanchor: "bottom" };

  function axisTitle(objective) {
    return supernas.metricTitle(objective.metric, objective.unit, objective.direction);
  }

  function layout(extra = {}) {
    return {
      margin: { l: 70, r: 20, t: 10, b: 55 },
      font: FONT,
      paper_bgcolor: "#fff",
      plot_bgcolor: "#fff",
      hovermode: "closest",
      hoverlabel: { align: "left" },
      legend: LEGEND,
      ...extra,
    };
  }

  // An axis titled `title`; counts and bytes get SI ticks (1.2M).
  function axis(title, unit = "") {
    return {
      title: { text: title },
      gridcolor: "#eceff4",
      zerolinecolor: "#dfe3ea",
      automargin: true,
      ...(supernas.siTicks(unit) ? { tickformat: "~s" } : {}),
    };
  }

  // Hover text per point: trial number, each objective in its unit, then the architecture summary.
  function hoverTexts(set, objectives) {
    return set.numbers.map((number, i) => [
      `<b>trial ${number}</b>`,
      ...objectives.map((o, k) => `${o.metric}: ${supernas.fmtIn(set.values[k][i], o.unit)}`),
      set.hover[i],
    ].join("<br>"));
  }

  // The set's points ordered by objective k (a 2-objective front is drawn as a line through them).
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

  // The objective a 2D view of a 3-objective job shows as colour: the one on neither axis.
  function colourIndex(objectives, xi, yi) {
    if (objectives.length !== 3) return null;
    return [0, 1, 2].find((k) => k !== xi && k !== yi);
  }

  // Dominated (faint), infeasible (red crosses) and front (highlighted) traces of a job's plot data on
  // objectives xi, yi, and zi when given (3D). A 2-objective front is joined into a line; with three
  // objectives a 2D view is a projection, so it is not joined and the third objective is the colour.
  function frontTraces(plot, xi, yi, zi = null) {
    const three = zi !== null;
    const ci = three ? null : colourIndex(plot.objectives, xi, yi);
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
    const coloured = (set, marker) => (ci === null ? marker : { ...marker, color: set.values[ci], coloraxis: "coloraxis" });
    const front = sorted(plot.front, xi);
    return [
      trace(plot.dominated, {
        name: label("dominated", plot.dominated.numbers.length, plot.dominated_total),
        mode: "markers",
        marker: coloured(plot.dominated, { color: "#6b7385", size: three ? 3 : 6, opacity: three ? 0.45 : 0.35 }),
      }),
      trace(plot.infeasible, {
        name: label("infeasible", plot.infeasible.numbers.length, plot.infeasible_total),
        mode: "markers",
        marker: { color: RED, size: three ? 4 : 8, opacity: 0.8, symbol: three ? "x" : "x-thin-open", line: { color: RED, width: 1.5 } },
      }),
      trace(front, {
        name: `Pareto front (${front.numbers.length})`,
        mode: three || ci !== null ? "markers" : "lines+markers",
        line: { color: ACCENT, width: 2 },
        marker: coloured(front, { color: ACCENT, size: three ? 5 : ci !== null ? 12 : 10, line: { color: ci !== null ? ACCENT : "#fff", width: ci !== null ? 2.5 : 1 } }),
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
    const hover = keep.map((i) => [
      `<b>trial ${v.numbers[i]}</b> verified on its checkpoint`,
      ...plot.objectives.map((o, k) => v.measured[k][i] === null
        ? `${o.metric}: not re-measured`
        : `${o.metric}: ${supernas.fmtIn(v.measured[k][i], o.unit)} (searched ${supernas.fmtIn(v.searched[k][i], o.unit)}, `
          + `error ${relativeError(v.errors[k][i])}${v.within_noise[k][i] === false ? ", beyond its noise" : ""})`),
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
      marker: { symbol: "circle-open", size: three ? 7 : 14, color: "#1d2330", line: { width: 2 } },
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

  // "0", "3e-6", "26%": a relative error as the verification cells and hovers show it.
  function relativeError(error) {
    if (error === null || error === undefined) return "–";
    if (error === 0) return "0";
    return error < 1e-3 ? error.toExponential(0) : `${(100 * error).toPrecision(2)}%`;
  }

  // "+26%", "−3e-6": a verified value's error with the direction it moved.
  function signedError(value) {
    if (value.error === null) return "–";
    const sign = value.error === 0 ? "" : value.measured >= value.searched ? "+" : "−";
    return `${sign}${relativeError(value.error)}`;
  }

  function extent(plot, k) {
    let low = Infinity;
    let high = -Infinity;
    for (const set of [plot.front, plot.dominated, plot.infeasible]) {
      for (const value of set.values[k]) {
        low = Math.min(low, value);
        high = Math.max(high, value);
      }
    }
    return [low, high];
  }

  // Each constraint on an axis metric: a dashed line at its bound, labelled, and its infeasible side
  // shaded as far as the trials go.
  function constraintShapes(plot, constraints, xi, yi) {
    const shapes = [];
    for (const [axisName, k] of [["x", xi], ["y", yi]]) {
      const [low, high] = extent(plot, k);
      for (const c of constraints.filter((c) => c.metric === plot.objectives[k].metric)) {
        for (const [bound, over, far] of [[c.max, "≤", high], [c.min, "≥", low]]) {
          if (bound === null || bound === undefined) continue;
          const name = `constraint ${c.metric} ${over} ${supernas.fmtIn(bound, c.unit)}`;
          const span = (a, b) => (axisName === "x"
            ? { xref: "x", x0: a, x1: b, yref: "paper", y0: 0, y1: 1 }
            : { yref: "y", y0: a, y1: b, xref: "paper", x0: 0, x1: 1 });
          shapes.push({
            type: "line", name, ...span(bound, bound), line: { color: RED, width: 1.5, dash: "dash" },
            label: { text: name, font: { size: 11, color: RED }, textposition: "end", yanchor: "bottom" },
          });
          if (Number.isFinite(far) && (over === "≤" ? far > bound : far < bound)) {
            shapes.push({
              type: "rect", name: `${name}: infeasible side`, ...span(bound, far), layer: "below",
              fillcolor: "rgba(200, 65, 47, 0.06)", line: { width: 0 },
            });
          }
        }
      }
    }
    return shapes;
  }

  // The front chart's layout: axes with units, constraints drawn, and in 2D for three objectives a
  // colour bar for the third.
  function frontLayout(plot, constraints, xi, yi, zi = null) {
    const objectives = plot.objectives;
    if (zi === null) {
      const ci = colourIndex(objectives, xi, yi);
      return layout({
        xaxis: axis(axisTitle(objectives[xi]), objectives[xi].unit),
        yaxis: axis(axisTitle(objectives[yi]), objectives[yi].unit),
        shapes: constraintShapes(plot, constraints, xi, yi),
        ...(ci === null ? {} : {
          coloraxis: {
            colorscale: "Viridis",
            colorbar: {
              title: { text: axisTitle(objectives[ci]), side: "right" },
              thickness: 12,
              ...(supernas.siTicks(objectives[ci].unit) ? { tickformat: "~s" } : {}),
            },
          },
        }),
      });
    }
    const scene = (k) => ({ title: { text: axisTitle(objectives[k]) }, tickfont: { size: 10 }, ...(supernas.siTicks(objectives[k].unit) ? { tickformat: "~s" } : {}) });
    return layout({
      margin: { l: 0, r: 0, t: 0, b: 0 },
      scene: {
        xaxis: scene(xi), yaxis: scene(yi), zaxis: scene(zi),
        aspectmode: "cube",
        camera: { eye: { x: 1.45, y: 1.45, z: 0.9 } },
      },
    });
  }

  function fillAxisSelect(select, objectives, selected) {
    select.replaceChildren(...objectives.map((o, i) => supernas.el("option", { value: i, selected: i === selected }, o.metric)));
  }

  // The x, y (and for three objectives z and "3D") selectors of a page; onChange redraws.
  function initAxisControls(objectives, onChange) {
    const $ = (id) => document.getElementById(id);
    fillAxisSelect($("axis-x"), objectives, 0);
    fillAxisSelect($("axis-y"), objectives, 1);
    if (objectives.length === 3) {
      fillAxisSelect($("axis-z"), objectives, 2);
      $("axis-z-label").hidden = false;
      $("three-d-label").hidden = false;
    }
    for (const id of ["axis-x", "axis-y", "axis-z", "three-d"]) $(id).addEventListener("change", onChange);
  }

  // Draw the front chart: a 3D chart is taller, and plotly follows a size change only when told.
  function drawFrontChart(div, traces, frontLayout, three) {
    const resized = div.classList.contains("three") !== three;
    div.classList.toggle("three", three);
    Plotly.react(div, traces, frontLayout, CONFIG).then(() => resized && Plotly.Plots.resize(div));
  }

  // The axes chosen on the page: { xi, yi, zi } (zi null in 2D).
  function selectedAxes(objectives) {
    const $ = (id) => document.getElementById(id);
    const three = objectives.length === 3 && $("three-d").checked;
    return { xi: Number($("axis-x").value), yi: Number($("axis-y").value), zi: three ? Number($("axis-z").value) : null };
  }

  // Clicking a point opens its trial: customdata holds trial numbers, urlFor(trace, number) the page.
  function onPointClick(div, urlFor) {
    div.on("plotly_click", (event) => {
      const point = event.points[0];
      if (point && point.customdata !== undefined) window.location.href = urlFor(point.data, point.customdata);
    });
  }

  return {
    ACCENT, COLORS, CONFIG, axis, axisTitle, layout, hoverTexts, sorted, frontTraces, verifiedTraces, relativeError, signedError, frontLayout,
    fillAxisSelect, initAxisControls, drawFrontChart, selectedAxes, onPointClick,
  };
})();
