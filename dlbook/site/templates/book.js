// dlbook's website: a copy button on each code cell, and search over a prebuilt index (no server).
"use strict";

(function () {
  const labels = document.documentElement.lang.startsWith("zh")
    ? { copy: "复制", copied: "已复制" } : { copy: "Copy", copied: "Copied" };

  // Copy buttons: the code as written (the line spans of dlbook.site.markup add no characters).
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    const area = document.createElement("textarea");
    area.value = text;
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
    return Promise.resolve();
  }
  for (const box of document.querySelectorAll(".input_area")) {
    const pre = box.querySelector("pre");
    if (!pre) continue;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy-button";
    button.textContent = labels.copy;
    button.setAttribute("aria-label", labels.copy);
    button.addEventListener("click", () => {
      copyText(pre.textContent.replace(/\n$/, "")).then(() => {
        button.textContent = labels.copied;
        setTimeout(() => { button.textContent = labels.copy; }, 1500);
      });
    });
    box.appendChild(button);
  }

  // Print: a formula or table wider than the paper is scaled down to fit instead of being cut off.
  const wide = () => document.querySelectorAll(".math-display, .table-scroll, .text_cell_render table, .output_html table");
  window.addEventListener("beforeprint", () => {
    for (const box of wide()) {
      const natural = box.scrollWidth, room = box.parentElement.clientWidth;
      if (natural > room + 1) box.style.zoom = (room / natural).toFixed(3);
    }
  });
  window.addEventListener("afterprint", () => { for (const box of wide()) box.style.zoom = ""; });

  // Search: the index is a script (search-LANG.js) loaded on first use, so it works from disk too.
  const box = document.getElementById("search-box");
  const list = document.getElementById("search-results");
  if (!box || !list) return;
  const root = document.documentElement.dataset.root || "";
  let loading = null;
  function loadIndex() {
    if (!loading) {
      loading = new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = box.dataset.index;
        script.onload = () => resolve(window.dlbookSearchIndex || []);
        script.onerror = () => reject(new Error("the search index did not load: " + box.dataset.index));
        document.head.appendChild(script);
      });
    }
    return loading;
  }
  function escapeHtml(text) {
    return text.replace(/[&<>"]/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  }
  function snippet(text, terms) {
    const lower = text.toLowerCase();
    const at = Math.max(0, lower.indexOf(terms[0]));
    const start = Math.max(0, at - 60);
    let piece = (start ? "…" : "") + text.slice(start, at + 120) + (at + 120 < text.length ? "…" : "");
    piece = escapeHtml(piece);
    for (const term of terms) {
      const pattern = new RegExp(escapeHtml(term).replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "gi");
      piece = piece.replace(pattern, m => "<mark>" + m + "</mark>");
    }
    return piece;
  }
  function count(haystack, needle) {
    let n = 0;
    for (let i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + needle.length)) n++;
    return n;
  }
  function search(index, query) {
    const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
    if (!terms.length) return [terms, []];
    const hits = [];
    for (const entry of index) {
      const text = entry.t.toLowerCase(), title = (entry.s + " " + entry.c).toLowerCase();
      let score = 0;
      for (const term of terms) {
        const inText = count(text, term), inTitle = count(title, term);
        if (!inText && !inTitle) { score = 0; break; }
        score += inText + 10 * inTitle;
      }
      if (score) hits.push([score, entry]);
    }
    hits.sort((a, b) => b[0] - a[0]);
    return [terms, hits.slice(0, 20).map(h => h[1])];
  }
  function show(terms, entries) {
    list.hidden = false;
    if (!entries.length) {
      list.innerHTML = '<li class="none">' + escapeHtml(box.dataset.none + " “" + box.value.trim() + "”") + "</li>";
      return;
    }
    list.innerHTML = entries.map(e =>
      '<li><a href="' + escapeHtml(root + e.p + (e.a ? "#" + e.a : "")) + '"><span class="where">' +
      escapeHtml(e.c + (e.s ? " › " + e.s : "")) + '</span><span class="snippet">' + snippet(e.t, terms) +
      "</span></a></li>").join("");
  }
  let pending = 0;
  box.addEventListener("focus", () => { loadIndex().catch(error => console.warn(error.message)); });
  box.addEventListener("input", () => {
    const query = box.value.trim(), ticket = ++pending;
    if (!query) { list.hidden = true; list.innerHTML = ""; return; }
    loadIndex().then(index => { if (ticket === pending) show(...search(index, query)); });
  });
  box.addEventListener("keydown", event => {
    if (event.key === "Escape") { box.value = ""; list.hidden = true; }
    if (event.key === "Enter") { const first = list.querySelector("a"); if (first) first.click(); }
  });
})();
