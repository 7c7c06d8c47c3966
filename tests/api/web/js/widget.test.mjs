// Unit tests of widget.js's pure functions: the safe Markdown renderer, the SSE parser, the
// contrast and language pickers. Run by tests/api/web/test_widget_js.py with `node --test`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const w = require("../../../../api/web/widget.js");

// A minimal document: records what the renderer creates, so nothing else can sneak in.
class FakeNode {
  constructor(tag, text) {
    this.tag = tag;
    this.text = text;
    this.attrs = {};
    this.kids = [];
  }
  setAttribute(k, v) {
    this.attrs[k] = String(v);
  }
  appendChild(n) {
    this.kids.push(n);
    return n;
  }
  get html() {
    if (this.tag === "#text") return this.text.replace(/&/g, "&amp;").replace(/</g, "&lt;");
    const attrs = Object.entries(this.attrs).map(([k, v]) => ` ${k}="${v}"`).join("");
    return `<${this.tag}${attrs}>${this.kids.map((k) => k.html).join("")}</${this.tag}>`;
  }
}
const doc = {
  createElement: (tag) => new FakeNode(tag),
  createTextNode: (text) => new FakeNode("#text", text),
};
const render = (md) => w.toNodes(w.parseMarkdown(md), doc).map((n) => n.html).join("");
const tags = (md) => {
  const found = new Set();
  const walk = (n) => (n.tag !== "#text" && found.add(n.tag), n.kids.forEach(walk));
  w.toNodes(w.parseMarkdown(md), doc).forEach(walk);
  return found;
};

test("bold, italics, code, lists and paragraphs", () => {
  assert.equal(render("a **b** *c* _d_ `e`"), "<p>a <strong>b</strong> <em>c</em> <em>d</em> <code>e</code></p>");
  assert.equal(render("- one\n- two\n\n1. first"), "<ul><li>one</li><li>two</li></ul><ol><li>first</li></ol>");
  assert.equal(render("line one\nline two\n\nnext"), "<p>line one<br></br>line two</p><p>next</p>");
  assert.equal(render("```\n<b>x</b>\n```"), "<pre><code>&lt;b>x&lt;/b></code></pre>");
  assert.equal(render("snake_case_name stays"), "<p>snake_case_name stays</p>");
});

test("links: http(s) only, opened safely", () => {
  assert.equal(
    render("[docs](https://example.com/a?b=1)"),
    '<p><a href="https://example.com/a?b=1" target="_blank" rel="noopener noreferrer">docs</a></p>',
  );
  assert.equal(
    render("see https://example.com/x."),
    '<p>see <a href="https://example.com/x" target="_blank" rel="noopener noreferrer">https://example.com/x</a>.</p>',
  );
  for (const bad of ["[x](javascript:alert(1))", "[x](data:text/html,hi)", "[x](//evil.example)", "[x](vbscript:msgbox)"]) {
    assert.ok(!tags(bad).has("a"), bad);
  }
});

test("markup in model output or documents stays text", () => {
  const payloads = [
    '<img src=x onerror="alert(1)">',
    "<script>alert(1)</script>",
    '<a href="javascript:alert(1)">x</a>',
    "**<svg onload=alert(1)>**",
    "[<img src=x>](https://ok.example)",
  ];
  for (const p of payloads) {
    for (const tag of tags(p)) assert.ok(["p", "strong", "a"].includes(tag), `${p}: ${tag}`);
    assert.ok(!render(p).includes("<img") && !render(p).includes("<script") && !render(p).includes("<svg"), p);
  }
});

test("the renderer refuses a tree that names another element or URL", () => {
  const nodes = w.toNodes([{ tag: "script", kids: ["x"] }, { tag: "a", href: "javascript:x", kids: ["y"] }], doc);
  assert.deepEqual(nodes.map((n) => n.tag), ["#text", "#text"]);
  assert.equal(nodes[1].text, "y");
});

test("SSE: events split across chunks, CRLF, comments and multi-line data", () => {
  const p = new w.SSEParser();
  assert.deepEqual(p.feed('event: delta\ndata: {"text":"Hel'), []);
  assert.deepEqual(p.feed('lo"}\n\n: keep-alive\n\nevent: done\r\ndata: a\r\ndata: b\r\n'), [
    { event: "delta", data: '{"text":"Hello"}' },
  ]);
  assert.deepEqual(p.feed("\r\n"), [{ event: "done", data: "a\nb" }]);
  assert.deepEqual(p.feed("data: plain\n\n"), [{ event: "message", data: "plain" }]);
  const q = new w.SSEParser();
  assert.deepEqual(q.feed("event: x\rdata: 1\r"), []);
  // A lone CR at the end of a chunk may be half of a CRLF: it is decided by the next chunk.
  assert.deepEqual(q.feed("\r"), []);
  assert.deepEqual(q.feed("data: 2\n\n"), [{ event: "x", data: "1" }, { event: "message", data: "2" }]);
});

test("text on the primary colour keeps WCAG AA contrast", () => {
  assert.equal(w.onColor("#1d4ed8"), "#ffffff");
  assert.equal(w.onColor("#fde047"), "#111111");
  assert.equal(w.onColor("#fff"), "#111111");
  assert.equal(w.onColor("not a colour"), "#ffffff");
});

test("language and error messages", () => {
  assert.equal(w.pickLanguage(null, "fr-CA", "en-US"), "fr");
  assert.equal(w.pickLanguage("", "de", "en-GB"), "en");
  assert.equal(w.pickLanguage(undefined, "", "xx"), "en");
  assert.equal(w.errorKey(0), "network");
  assert.equal(w.errorKey(403, {}), "origin");
  assert.equal(w.errorKey(429, { quota: "conversation" }), "full");
  assert.equal(w.errorKey(429, { quota: "daily" }), "limited");
  assert.equal(w.errorKey(500, {}), "generic");
  for (const lang of Object.keys(w.STRINGS)) {
    assert.deepEqual(Object.keys(w.STRINGS[lang]).sort(), Object.keys(w.STRINGS.en).sort(), lang);
  }
});

test("the checked answer replaces what streamed when the engine dropped claims", () => {
  const shown = "Staff park on level 2 [1]. The CEO likes cats [2].";
  const verdict = { answer: "Staff park on level 2 [1].", grounded: true, claims: [], dropped: 1 };
  assert.equal(w.checkedText(shown, "verdict", verdict), "Staff park on level 2 [1].");
  assert.equal(w.checkedText(shown, "verdict", { answer: shown, dropped: 0 }), null);
  assert.equal(w.checkedText(shown, "done", { answer: "Other." }), "Other.");
  assert.equal(w.checkedText(shown, "done", { model: "x" }), null);
  assert.equal(w.checkedText(shown, "citations", { answer: "x" }), null);
});
