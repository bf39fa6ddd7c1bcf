// Jobs page: the jobs table (live while any job is queued or running) and the submit form.
"use strict";

(() => {
  const { el, fmt, badge, progress, json, ACTIVE } = supernas;
  const body = document.querySelector("#jobs tbody");
  const jobsError = document.getElementById("jobs-error");
  const compareButton = document.getElementById("compare");
  const selected = new Set();

  async function act(job, action) {
    jobsError.textContent = "";
    try {
      await json(`/api/jobs/${job.id}/${action}`, { method: "POST" });
    } catch (error) {
      jobsError.textContent = `${action} job ${job.id}: ${error.message}`;
    }
    refresh();
  }

  function row(job) {
    const done = job.evaluated;
    const tick = el("input", { type: "checkbox", "aria-label": `select job ${job.id}`, checked: selected.has(job.id) });
    tick.addEventListener("change", () => {
      if (tick.checked) selected.add(job.id); else selected.delete(job.id);
      compareButton.disabled = selected.size < 2;
    });
    const action = ACTIVE.has(job.status)
      ? el("button", { class: "small", onclick: () => act(job, "cancel") }, "Cancel")
      : ["stopped", "failed"].includes(job.status)
        ? el("button", { class: "small", onclick: () => act(job, "resume") }, "Resume")
        : null;
    // what a phone shows first: name, status and progress; the rest scrolls in from the right
    return el("tr", { "data-job": job.id },
      el("td", {}, tick),
      el("td", {}, el("a", { href: `/jobs/${job.id}` }, job.name)),
      el("td", { title: job.error || "" }, badge(job.status)),
      el("td", {}, progress(done, job.budget_trials, job.status === "completed")),
      el("td", { class: "num", title: supernas.hypervolumeText(job) },
        fmt(job.hypervolume), job.hypervolume === null ? null : el("small", { class: "unit" }, supernas.volumeUnit(job.objectives))),
      el("td", {}, action),
      el("td", { class: "num" }, job.id),
      el("td", {}, job.space),
      el("td", { class: "muted" }, new Date(job.created_at).toLocaleString()));
  }

  async function loadJobs() {
    const jobs = await json("/api/jobs");
    body.replaceChildren(...jobs.slice().reverse().map(row)); // newest first
    document.getElementById("jobs-empty").hidden = jobs.length > 0;
    document.body.dataset.loaded = "true";
    return jobs.some((job) => ACTIVE.has(job.status));
  }

  const refresh = supernas.poll(loadJobs);

  compareButton.addEventListener("click", () => {
    window.location.href = `/compare?jobs=${[...selected].sort((a, b) => a - b).join(",")}`;
  });

  // ---------- submit form

  const form = document.getElementById("submit-form");
  const feedback = document.getElementById("submit-feedback");
  const textarea = document.getElementById("spec");
  const fileInput = document.getElementById("spec-file");

  function say(kind, ...children) {
    feedback.className = `feedback ${kind}`;
    feedback.replaceChildren(...children);
  }

  // A syntax error's line, quoted under the message with a caret at its column, and selected in the
  // text box when the spec was typed there.
  function markLine(message, text, typed) {
    const match = /line (\d+), column (\d+)/.exec(message);
    if (!match) return [];
    const [line, column] = [Number(match[1]), Number(match[2])];
    const lines = text.split("\n");
    if (line > lines.length) return [];
    if (typed) {
      const start = lines.slice(0, line - 1).reduce((sum, l) => sum + l.length + 1, 0);
      textarea.focus();
      textarea.setSelectionRange(start, start + lines[line - 1].length);
    }
    const gutter = `${line} | `;
    return [el("pre", { class: "marked-line", "data-line": line },
      `${gutter}${lines[line - 1]}\n${" ".repeat(gutter.length + column - 1)}^`)];
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = fileInput.files[0];
    const text = file ? await file.text() : textarea.value;
    if (!text.trim()) {
      say("error", "Paste a job spec or choose a file first.");
      return;
    }
    const type = file && file.name.endsWith(".json") ? "application/json" : "application/x-yaml";
    document.getElementById("submit").disabled = true;
    try {
      const job = await json("/api/jobs", { method: "POST", headers: { "Content-Type": type }, body: text });
      say("ok", "Queued ", el("a", { href: `/jobs/${job.id}`, id: "submitted-job" }, `job ${job.id} (${job.name})`), ".");
      form.reset();
      refresh();
    } catch (error) {
      say("error", el("strong", {}, `Not submitted (${error.status}): `), error.message, ...markLine(error.message, text, !file));
    } finally {
      document.getElementById("submit").disabled = false;
    }
  });
})();
