// overhear inbox keyboard: j/k move, o or Enter open, a take, r resolve (note),
// d dismiss (reason), x select, / filter, Esc leaves a field. No inline script:
// the page's Content-Security-Policy allows only this file.
(function () {
  "use strict";
  const rows = () => Array.from(document.querySelectorAll("li.mention"));
  const current = () => document.querySelector("li.mention.sel");
  function select(row) {
    const old = current();
    if (old) old.classList.remove("sel");
    if (!row) return;
    row.classList.add("sel");
    row.scrollIntoView({ block: "nearest" });
    try { sessionStorage.setItem("overhear.sel", row.dataset.id || ""); } catch (e) { /* storage off */ }
  }
  function move(by) {
    const all = rows();
    if (!all.length) return;
    const i = all.indexOf(current());
    select(all[Math.max(0, Math.min(all.length - 1, (i < 0 ? 0 : i + by)))]);
  }
  function restore() {
    let id = null;
    try { id = sessionStorage.getItem("overhear.sel"); } catch (e) { /* storage off */ }
    const all = rows();
    const again = id && all.find(r => r.dataset.id === id);
    if (again) select(again); else if (all.length) select(all[0]);
  }
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t.matches("input, select, textarea")) {
      if (e.key === "Escape") t.blur();
      return;
    }
    const row = current();
    const field = key => row && row.querySelector('[data-key="' + key + '"]');
    switch (e.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "o": case "Enter":
        if (row && row.dataset.href) window.location.href = row.dataset.href;
        break;
      case "a": { const b = field("a"); if (b) b.closest("form").requestSubmit(); break; }
      case "r": { const f = field("r"); if (f) { e.preventDefault(); f.focus(); } break; }
      case "d": { const f = field("d"); if (f) { e.preventDefault(); f.focus(); } break; }
      case "x": { const c = row && row.querySelector("input.pick"); if (c) c.checked = !c.checked; break; }
      case "/": {
        const f = document.querySelector('.filters input[name="source"], .filters select');
        const s = document.querySelector('.filters input[name="q"]') || f;
        if (s) { e.preventDefault(); s.focus(); }
        break;
      }
      default: return;
    }
  });
  // a chosen dismiss reason is sent at once (Enter in the note field sends resolve)
  document.querySelectorAll('select[data-key="d"]').forEach(function (s) {
    s.addEventListener("keydown", function (e) {
      if (e.key === "Enter") { e.preventDefault(); s.closest("form").requestSubmit(); }
    });
  });
  document.querySelectorAll("li.mention").forEach(function (r) {
    r.addEventListener("click", function (e) { if (!e.target.closest("a, button, input, select")) select(r); });
  });
  restore();
})();
// reply forms: a saved reply fills the text; the count follows the chosen account's
// network (Bluesky counts graphemes, the others characters)
(function () {
  "use strict";
  const seg = (typeof Intl !== "undefined" && Intl.Segmenter) ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;
  function length(text, unit) {
    if (unit === "graphemes" && seg) return Array.from(seg.segment(text)).length;
    return Array.from(text).length;
  }
  document.querySelectorAll("form.reply-form").forEach(function (f) {
    const text = f.querySelector("textarea[name=text]");
    const account = f.querySelector("select.reply-account");
    const template = f.querySelector("select.reply-template");
    const count = f.querySelector(".reply-count");
    const button = f.querySelector("button.post-reply");
    function update() {
      const o = account && account.selectedOptions[0];
      if (!o || !o.dataset.max || !count) return;
      const n = length(text.value, o.dataset.unit);
      const max = Number(o.dataset.max), min = Number(o.dataset.min || "1");
      count.textContent = n + " / " + max + " " + (o.dataset.unit || "characters");
      const bad = n > max || (n > 0 && n < min);
      count.classList.toggle("over", bad);
      if (button) button.disabled = bad;
    }
    if (template) template.addEventListener("change", function () {
      const o = template.selectedOptions[0];
      if (o && o.dataset.text !== undefined && o.value) text.value = o.dataset.text;
      update();
    });
    if (account) account.addEventListener("change", update);
    text.addEventListener("input", update);
    update();
  });
})();
