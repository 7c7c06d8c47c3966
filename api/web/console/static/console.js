// The console's only script: progressive enhancement of server-rendered pages. Every page
// works without it except the multi-file upload and the live crawl counts. It writes text
// with textContent only (never innerHTML), and runs under script-src 'self'.
"use strict";

(function () {
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Copy buttons: data-copy names the element whose value or text is copied.
  function copyButtons() {
    document.querySelectorAll("[data-copy]").forEach((button) => {
      button.addEventListener("click", async () => {
        const source = document.querySelector(button.dataset.copy);
        if (!source) return;
        const text = source.value !== undefined ? source.value : source.textContent;
        const label = button.textContent;
        try {
          await navigator.clipboard.writeText(text);
        } catch (_error) {
          // Without clipboard permission (plain http), select it for Ctrl+C.
          const range = document.createRange();
          range.selectNodeContents(source);
          if (source.select) source.select();
          else window.getSelection().addRange(range);
        }
        button.textContent = "Copied";
        button.dataset.copied = "1";
        setTimeout(() => { button.textContent = label; }, 2000);
      });
    });
  }

  // Forms asking for a confirmation, or for a typed name before a deletion.
  function confirmations() {
    document.querySelectorAll("form[data-confirm]").forEach((form) => {
      form.addEventListener("submit", (event) => {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
    document.querySelectorAll("form[data-confirm-name]").forEach((form) => {
      const input = form.querySelector('input[name="confirm"]');
      const button = form.querySelector('button[type="submit"]');
      const check = () => { button.disabled = input.value.trim() !== form.dataset.confirmName; };
      input.addEventListener("input", check);
      check();
    });
  }

  // Multi-file upload: one request per file, each with its progress and outcome.
  const OUTCOMES = { created: "created", updated: "replaced (new content)", unchanged: "unchanged (same content)" };

  function uploadOne(url, file, list) {
    const item = el("li", "upload");
    const name = el("span", "name", file.name);
    const bar = el("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", "Upload of " + file.name);
    const state = el("span", "state", "waiting");
    item.append(name, bar, state);
    list.append(item);
    return new Promise((resolve) => {
      const form = new FormData();
      form.append("file", file, file.name);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("X-CSRF-Token", csrf());
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) bar.value = Math.round((event.loaded / event.total) * 100);
        state.textContent = bar.value < 100 ? "uploading " + bar.value + " %" : "processing";
      });
      xhr.addEventListener("load", () => {
        let body = {};
        try { body = JSON.parse(xhr.responseText); } catch (_error) { body = {}; }
        bar.value = 100;
        if (xhr.status >= 200 && xhr.status < 300) {
          item.dataset.outcome = body.outcome === "updated" ? "replaced" : body.outcome;
          state.textContent = OUTCOMES[body.outcome] || body.outcome;
        } else {
          item.dataset.outcome = "refused";
          state.textContent = "refused: " + (body.detail || "HTTP " + xhr.status);
        }
        resolve();
      });
      xhr.addEventListener("error", () => {
        item.dataset.outcome = "refused";
        state.textContent = "refused: the connection failed";
        resolve();
      });
      xhr.send(form);
    });
  }

  function uploads() {
    const zone = document.querySelector("[data-upload]");
    if (!zone) return;
    const list = document.querySelector(".uploads");
    const input = zone.querySelector('input[type="file"]');
    const hint = document.querySelector(".js-only");
    const send = async (files) => {
      // One at a time: the server embeds them in turn anyway, and progress stays readable.
      for (const file of files) await uploadOne(zone.dataset.upload, file, list);
      if (hint) hint.hidden = false;
    };
    input.addEventListener("change", () => { send([...input.files]); input.value = ""; });
    zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      send([...event.dataTransfer.files]);
    });
  }

  // Live crawl counts: rows of queued or running crawls poll their status each second.
  const FINISHED = ["done", "failed", "cancelled"];

  function pollCrawl(row) {
    const tick = async () => {
      let job;
      try {
        const response = await fetch(row.dataset.poll, { headers: { Accept: "application/json" } });
        if (!response.ok) return;
        job = await response.json();
      } catch (_error) {
        setTimeout(tick, 3000);
        return;
      }
      const set = (field, value) => {
        const cell = row.querySelector('[data-field="' + field + '"]');
        if (cell) cell.textContent = String(value);
      };
      for (const field of ["discovered", "fetched", "ingested", "unchanged"]) set(field, job.counts[field]);
      set("failed", Object.values(job.counts.failed).reduce((a, b) => a + b, 0));
      set("status", job.status);
      const status = row.querySelector('[data-field="status"]');
      if (status) status.className = "status status-" + job.status;
      if (FINISHED.includes(job.status)) {
        row.dataset.finished = job.status;
        row.querySelectorAll("[data-hide-when-done]").forEach((node) => { node.hidden = true; });
        row.querySelectorAll("[data-show-when-done]").forEach((node) => { node.hidden = false; });
      } else {
        setTimeout(tick, 1000);
      }
    };
    tick();
  }

  // The new-key form shows the fields of the chosen kind only.
  function keyForm() {
    const form = document.querySelector(".key-form");
    if (!form) return;
    const show = () => {
      const kind = form.querySelector('input[name="kind"]:checked').value;
      form.querySelectorAll("[data-kind]").forEach((node) => { node.hidden = node.dataset.kind !== kind; });
    };
    form.querySelectorAll('input[name="kind"]').forEach((radio) => radio.addEventListener("change", show));
    show();
    const wanted = new URLSearchParams(location.search).get("kb");
    if (wanted) {
      const option = form.querySelector('select[name="kb_ids"] option[value="' + CSS.escape(wanted) + '"]');
      if (option) {
        option.selected = true;
        form.querySelector('input[value="publishable"]').checked = true;
        show();
      }
    }
  }

  // The widget page's preview follows the settings form as it is edited. Colours go through
  // the CSSOM (allowed by the page's style-src 'self'), never a style attribute.
  function widgetPreview() {
    const preview = document.querySelector("[data-preview]");
    const form = document.querySelector('form[action$="/widget"]');
    if (!preview || !form) return;
    const part = (name) => preview.querySelector('[data-pv="' + name + '"]');
    const value = (name) => (form.elements[name] ? form.elements[name].value.trim() : "");
    const update = () => {
      part("title").textContent = value("title") || preview.dataset.kbName;
      const welcome = part("welcome");
      welcome.textContent = value("welcome");
      welcome.hidden = !welcome.textContent;
      const chips = part("suggestions");
      chips.replaceChildren(...value("suggestions").split("\n").filter((q) => q.trim()).slice(0, 6)
        .map((q) => el("span", "pv-chip", q.trim())));
      part("placeholder").textContent = value("placeholder") || "Ask a question…";
      const colour = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(value("color")) ? value("color") : "";
      for (const name of ["title", "launcher"]) part(name).style.backgroundColor = colour;
      preview.classList.toggle("pv-left", value("position") === "left");
    };
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    update();
  }

  document.addEventListener("DOMContentLoaded", () => {
    copyButtons();
    confirmations();
    uploads();
    document.querySelectorAll("tr[data-poll]").forEach(pollCrawl);
    keyForm();
    widgetPreview();
  });
})();
