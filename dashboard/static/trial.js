// Trial page: the architecture layer by layer, its metrics (searched, and re-measured on its checkpoint
// once verified), its place on the job's front, the "Extract checkpoint" download and "Verify".
"use strict";

(() => {
  const { el, json, api } = supernas;
  const jobId = document.body.dataset.jobId;
  const number = Number(document.body.dataset.trial);
  const $ = (id) => document.getElementById(id);
  const ATTENTION = { mha: "MHA", gqa: "GQA", linear: "linear", sliding_window: "sliding window", none: "no attention" };
  // format -> [its name in the select, what its zip holds]
  const FORMATS = {
    supernas: ["supernas checkpoint", "config.json + model.safetensors"],
    onnx: ["ONNX", "model.onnx"],
    hf: ["Hugging Face", "a Hugging Face model directory"],
    "sentence-transformers": ["sentence-transformers", "a sentence-transformers folder"],
  };

  function meter(value, max, color, text = value) {
    const fill = el("div", { class: "fill" });
    fill.style.width = `${Math.max(4, (100 * value) / max).toFixed(1)}%`;
    fill.style.background = color;
    return el("div", { class: "meter" }, el("div", { class: "track" }, fill), el("span", { class: "label" }, text));
  }

  function bits(kind, value, max) {
    const chip = el("span", { class: "bits", title: `${kind === "w" ? "weight" : "activation"} bits` }, `${kind}${value}`);
    const strength = 0.15 + 0.6 * (value / Math.max(max, 32));
    chip.style.background = `rgba(47, 111, 219, ${strength.toFixed(2)})`;
    chip.style.color = strength > 0.45 ? "#fff" : "#1d2330";
    return chip;
  }

  function experts(layer) {
    if (layer.ffn_dim === 0) return el("span", { class: "experts muted" }, "no FFN");
    const boxes = Array.from({ length: layer.experts }, (_, i) => el("i", { class: i < layer.top_k ? "active" : null }));
    const note = layer.experts === 1 ? "dense" : `top-${layer.top_k} of ${layer.experts}`;
    return el("span", { class: "experts", title: note }, ...boxes, el("em", {}, note));
  }

  function attention(layer) {
    let text = ATTENTION[layer.attention];
    if (layer.attention === "gqa") text += ` ${layer.heads}:${layer.kv_heads}`;
    if (layer.attention === "sliding_window") text += ` w${layer.window}`;
    return el("span", { class: `attn ${layer.attention}` }, text);
  }

  // One row per layer: attention type, heads, FFN width, experts and bits, drawn to the space's scale.
  function drawArchitecture(trial) {
    const arch = trial.architecture;
    const limits = trial.limits;
    const rows = arch.layers.map((layer, i) => el("tr", { "data-layer": i },
      el("td", {}, `L${i}`),
      el("td", {}, attention(layer)),
      el("td", {}, meter(layer.heads, limits.heads, "#7a4fc9")),
      el("td", {}, meter(layer.ffn_dim, limits.ffn_dim, "#2e9e5b")),
      el("td", {}, experts(layer)),
      el("td", {}, bits("w", layer.weight_bits, limits.weight_bits), bits("a", layer.act_bits, 32))));
    const frontEnd = trial.front_end ? [el("div", { class: "front-end" }, el("strong", {}, "front end"), ` ${trial.front_end}`)] : [];
    $("arch").replaceChildren(
      ...frontEnd,
      el("div", { class: "embed" },
        el("strong", {}, `${arch.layers.length} of ${limits.depth} layers`),
        el("span", { class: "muted" }, "embedding width"),
        meter(arch.embed_dim, limits.embed_dim, "#2f6fdb", `${arch.embed_dim}`)),
      el("table", {},
        el("thead", {}, el("tr", {}, ...["layer", "attention", "heads", "FFN width", "experts", "bits"].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...rows)),
      el("div", { class: "legend" },
        ...Object.entries(ATTENTION).map(([key, name]) => el("span", { class: `attn ${key}` }, name)),
        el("span", {}, `bars: share of the space's largest (heads ${limits.heads}, FFN ${limits.ffn_dim}, embedding ${limits.embed_dim})`)));
  }

  function drawMetrics(trial, job) {
    const direction = (m) => (job.objectives.find((o) => o.metric === m) || {}).direction;
    const items = job.metrics.flatMap((m) => [
      el("dt", {}, supernas.metricTitle(m, job.units[m], direction(m))),
      el("dd", {}, supernas.fmtIn(trial.values ? trial.values[m] : null, job.units[m])),
    ]);
    if (trial.duration_s !== null) items.push(el("dt", {}, "evaluation"), el("dd", {}, `${trial.duration_s.toFixed(2)} s on ${trial.worker}`));
    if (trial.error) items.push(el("dt", {}, "error"), el("dd", { class: "error" }, trial.error));
    $("metrics").replaceChildren(...items);
    $("trial-meta").textContent = trial.summary;
    drawVerification(trial, job);
  }

  // Searched vs re-measured on the trial's checkpoint, with the relative error and how it was measured.
  function drawVerification(trial, job) {
    const v = trial.verification;
    $("verify").hidden = !trial.values;
    if (!v) {
      $("verification").replaceChildren(el("p", { class: "note" },
        trial.values ? `Not verified yet: Verify (or \`supernas verify ${job.id} --trials ${trial.number}\`) extracts the checkpoint, `
          + "loads it back and re-measures every metric on it." : "Only trials with values can be verified."));
      return;
    }
    const distilled = v.weights === "distilled"; // differs from the searched values by design
    const rows = job.metrics.filter((m) => v.values[m]).map((m) => {
      const value = v.values[m];
      let how = value.note ? `${value.method}: ${value.note}` : value.method;
      if (value.spread !== null) how += ` (runs spread ${(100 * value.spread).toFixed(0)}%)`;
      const off = !distilled && value.within_noise === false;
      const unit = job.units[m];
      return el("tr", { "data-metric": m },
        el("td", {}, m), el("td", { class: "num" }, supernas.fmtIn(value.searched, unit)),
        el("td", { class: "num" }, supernas.fmtIn(value.measured, unit)),
        el("td", { class: off ? "num warn" : "num", title: off ? `${m}: beyond its noise` : "" }, `${off ? "⚠ " : ""}${charts.signedError(value)}`),
        el("td", { class: "num muted" }, value.noise === null ? "–" : charts.relativeError(value.noise)),
        el("td", { class: "muted how" }, how));
    });
    $("verification").replaceChildren(
      el("p", { class: "note", "data-weights": v.weights }, (distilled
        ? "Re-measured on its distilled checkpoint (searched: the subnet before distillation, so the two differ by design)"
        : "Re-measured on its extracted, reloaded checkpoint") + ` on ${new Date(v.verified_at).toLocaleString()}`
        + ` (model.safetensors ${(v.checkpoint_bytes / 1e6).toFixed(2)} MB${v.hardware ? `; ${v.hardware}` : ""}).`
        + " Noise: the error within which the two agree (1e-5 for exact metrics, the timing runs' spread for timed ones); ⚠ marks a larger one."),
      el("table", { class: "data" },
        el("thead", {}, el("tr", {}, ...["metric", "searched", "measured", "error", "noise", "how"].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...rows)));
  }

  async function verify() {
    const status = $("verify-status");
    $("verify").disabled = true;
    status.className = "note";
    status.textContent = "Extracting the checkpoint, loading it back and re-measuring every metric…";
    try {
      const trial = await json(`/api/jobs/${jobId}/trials/${number}/verify`, { method: "POST" });
      state.trial = trial;
      drawVerification(trial, state.job);
      state.plot = await json(`/api/jobs/${jobId}/plot`);
      drawFront();
      status.textContent = "Verified.";
    } catch (error) {
      status.className = "note error";
      status.textContent = `Verify failed (${error.status}): ${error.message}`;
    } finally {
      $("verify").disabled = false;
    }
  }
  $("verify").addEventListener("click", verify);

  // The job's front on the chosen axes, with this trial marked.
  function drawFront() {
    const { plot, trial, job } = state;
    const { xi, yi, zi } = charts.selectedAxes(plot.objectives);
    const traces = [...charts.frontTraces(plot, xi, yi, zi), ...charts.verifiedTraces(plot, xi, yi, zi)];
    if (trial.values) {
      const at = (k) => [trial.values[plot.objectives[k].metric]];
      traces.push({
        type: zi === null ? "scattergl" : "scatter3d",
        mode: "markers",
        name: `trial ${trial.number}`,
        x: at(xi),
        y: at(yi),
        ...(zi === null ? {} : { z: at(zi) }),
        customdata: [trial.number],
        hoverinfo: "skip",
        marker: { symbol: zi === null ? "star" : "diamond", size: zi === null ? 20 : 8, color: "#1d2330", line: { color: "#fff", width: 1.5 } },
      });
    }
    charts.drawFrontChart($("front"), traces, charts.frontLayout(plot, job.constraints, xi, yi, zi), zi !== null);
  }

  async function extract() {
    const status = $("extract-status");
    const button = $("extract");
    button.disabled = true;
    status.className = "note";
    const format = $("export-format").value;
    const weights = $("extract-weights").value;
    status.textContent = format === "supernas" ? "Building the checkpoint…" : `Exporting (${format}) and checking it in its runtime…`;
    try {
      const response = await api(`/api/jobs/${jobId}/trials/${number}/extract?format=${format}&weights=${weights}`, { method: "POST" });
      const blob = await response.blob();
      const match = /filename="?([^";]+)"?/.exec(response.headers.get("Content-Disposition") || "");
      const name = match ? match[1] : `trial-${number}.zip`;
      const link = el("a", { href: URL.createObjectURL(blob), download: name });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      status.textContent = `Downloaded ${name} (${(blob.size / 1e6).toFixed(1)} MB): ${FORMATS[format][1]}.`;
    } catch (error) {
      status.className = "note error";
      status.textContent = `Extract failed (${error.status}): ${error.message}`;
    } finally {
      button.disabled = false;
    }
  }
  $("extract").addEventListener("click", extract);

  // Every export format the server offers; one that does not apply to this subnet is listed disabled,
  // its one-line reason (the one Extract would answer) as its tooltip.
  function drawFormats(formats) {
    $("export-format").replaceChildren(...formats.map((f) => {
      const name = FORMATS[f.format][0];
      return el("option", { value: f.format, disabled: !f.available, title: f.reason },
        f.available ? name : `${name} (not for this subnet)`);
    }));
    $("extract").disabled = false;
  }

  // Distillation runs on the server in the background; the page follows it until it is done or failed.
  async function followDistillation(run) {
    const status = $("extract-status");
    $("distill").disabled = run.state === "running";
    if (run.state === "running") {
      status.className = "note";
      status.textContent = `Distilling the subnet from the parent (${run.steps} steps), then re-measuring it…`;
      setTimeout(async () => {
        try {
          followDistillation(await json(`/api/jobs/${jobId}/trials/${number}/distill`));
        } catch (error) {
          status.className = "note error";
          status.textContent = `Distill status unavailable (${error.status}): ${error.message}`;
          $("distill").disabled = false;
        }
      }, 2000);
    } else if (run.state === "done") {
      state.trial = await json(`/api/jobs/${jobId}/trials/${number}`);
      drawVerification(state.trial, state.job);
      $("extract-weights").value = "distilled";
      status.className = "note";
      status.textContent = `Distilled (${run.steps} steps) and re-measured: Extract downloads it with Weights 'distilled'.`;
    } else {
      status.className = "note error";
      status.textContent = `Distill failed: ${run.error}`;
    }
  }

  async function distill() {
    const status = $("extract-status");
    $("distill").disabled = true;
    try {
      const steps = $("distill-steps").value;
      followDistillation(await json(`/api/jobs/${jobId}/trials/${number}/distill?steps=${steps}`, { method: "POST" }));
    } catch (error) {
      status.className = "note error";
      status.textContent = `Distill failed (${error.status}): ${error.message}`;
      $("distill").disabled = false;
    }
  }
  $("distill").addEventListener("click", distill);

  const state = {};

  (async () => {
    const [trial, job, plot] = await Promise.all([
      json(`/api/jobs/${jobId}/trials/${number}`), json(`/api/jobs/${jobId}`), json(`/api/jobs/${jobId}/plot`),
    ]);
    Object.assign(state, { trial, job, plot });
    drawArchitecture(trial);
    drawFormats(trial.formats);
    drawMetrics(trial, job);
    charts.initAxisControls(plot.objectives, drawFront);
    drawFront();
    charts.onPointClick($("front"), (_, n) => `/jobs/${jobId}/trials/${n}`);
    json(`/api/jobs/${jobId}/trials/${number}/distill`)  // a distillation still running since an earlier visit
      .then((run) => run.state === "running" && followDistillation(run))
      .catch(() => {});  // none on this server: nothing to follow
    document.body.dataset.loaded = "true";
  })();
})();
