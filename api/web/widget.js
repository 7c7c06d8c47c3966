/* kb-engine chat widget: the <kb-chat> custom element and window.KBChat.
 * Plain JavaScript, no build step; served by the engine at /widget.js. docs/widget.md says how
 * to install it, what a host's Content-Security-Policy must allow and the JavaScript API.
 * Safety: every string from the network becomes text nodes or elements from a fixed list
 * (parseMarkdown + toNodes); no string is ever parsed as HTML or evaluated as code. */
(() => {
  "use strict";

  // ---- pure functions (unit-tested with node --test) ----------------------------------------

  const SAFE_TAGS = new Set(["p", "strong", "em", "code", "pre", "ul", "ol", "li", "a", "br"]);
  const INLINE =
    /`([^`\n]+)`|\*\*([^*\n]+?)\*\*|\[([^\]\n]+)\]\((https?:\/\/[^\s()<>]+)\)|(https?:\/\/[^\s<>()"']+[^\s<>()"'.,;:!?])|\*([^*\n]+?)\*|_([^_\n]+?)_/g;

  /** The URL if it is an absolute http(s) URL, else null. */
  function safeUrl(value) {
    if (typeof value !== "string") return null;
    try {
      const url = new URL(value.trim());
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (_) {
      return null;
    }
  }

  /** Inline Markdown of one line as a list of strings and {tag, kids, href} nodes. */
  function parseInline(text, depth = 0) {
    const out = [];
    let last = 0;
    INLINE.lastIndex = 0;
    const matches = [...String(text).matchAll(INLINE)];
    for (const m of matches) {
      const at = m.index;
      // snake_case is not emphasis
      if (m[7] !== undefined && at > 0 && /\w/.test(text[at - 1])) continue;
      if (at > last) out.push(text.slice(last, at));
      const inner = (s) => (depth < 3 ? parseInline(s, depth + 1) : [s]);
      if (m[1] !== undefined) out.push({ tag: "code", kids: [m[1]] });
      else if (m[2] !== undefined) out.push({ tag: "strong", kids: inner(m[2]) });
      else if (m[3] !== undefined) {
        const href = safeUrl(m[4]);
        out.push(href ? { tag: "a", href, kids: inner(m[3]) } : m[0]);
      } else if (m[5] !== undefined) {
        const href = safeUrl(m[5]);
        out.push(href ? { tag: "a", href, kids: [m[5]] } : m[5]);
      } else out.push({ tag: "em", kids: inner(m[6] !== undefined ? m[6] : m[7]) });
      last = at + m[0].length;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }

  /** A tree of the small Markdown subset: paragraphs, lists, code blocks and inline marks. */
  function parseMarkdown(source) {
    const lines = String(source == null ? "" : source).replace(/\r\n?/g, "\n").split("\n");
    const blocks = [];
    let para = null;
    let list = null;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (/^\s*```/.test(line)) {
        const code = [];
        for (i++; i < lines.length && !/^\s*```/.test(lines[i]); i++) code.push(lines[i]);
        blocks.push({ tag: "pre", kids: [{ tag: "code", kids: [code.join("\n")] }] });
        para = list = null;
        continue;
      }
      const item = /^\s*(?:([-*+])|(\d{1,9})[.)])\s+(.*)$/.exec(line);
      if (item) {
        const tag = item[1] ? "ul" : "ol";
        if (!list || list.tag !== tag) blocks.push((list = { tag, kids: [] }));
        list.kids.push({ tag: "li", kids: parseInline(item[3]) });
        para = null;
      } else if (!line.trim()) {
        para = list = null;
      } else if (list && /^\s+\S/.test(line)) {
        list.kids[list.kids.length - 1].kids.push(" ", ...parseInline(line.trim()));
      } else {
        if (!para) blocks.push((para = { tag: "p", kids: [] }));
        else para.kids.push({ tag: "br", kids: [] });
        para.kids.push(...parseInline(line));
        list = null;
      }
    }
    return blocks;
  }

  /** DOM nodes for a parsed tree, built from text nodes and elements of SAFE_TAGS only. */
  function toNodes(tree, doc) {
    return tree.map((node) => {
      if (typeof node === "string") return doc.createTextNode(node);
      if (!SAFE_TAGS.has(node.tag)) return doc.createTextNode("");
      const el = doc.createElement(node.tag);
      if (node.tag === "a") {
        const href = safeUrl(node.href);
        if (!href) return doc.createTextNode(flatText(node));
        el.setAttribute("href", href);
        el.setAttribute("target", "_blank");
        el.setAttribute("rel", "noopener noreferrer");
      }
      for (const kid of toNodes(node.kids || [], doc)) el.appendChild(kid);
      return el;
    });
  }

  function flatText(node) {
    return typeof node === "string" ? node : (node.kids || []).map(flatText).join("");
  }

  /** Incremental Server-Sent Events parser: feed() text, get back complete {event, data}. */
  class SSEParser {
    constructor() {
      this.buffer = "";
      this.event = "";
      this.data = [];
    }
    feed(text) {
      this.buffer += text;
      const events = [];
      let nl;
      while ((nl = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = this.buffer.slice(0, nl);
        const sep = this.buffer[nl] === "\r" && this.buffer[nl + 1] === "\n" ? 2 : 1;
        if (this.buffer[nl] === "\r" && nl + 1 === this.buffer.length) break; // maybe \r\n
        this.buffer = this.buffer.slice(nl + sep);
        if (line === "") {
          if (this.data.length) events.push({ event: this.event || "message", data: this.data.join("\n") });
          this.event = "";
          this.data = [];
        } else if (line[0] !== ":") {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let value = colon < 0 ? "" : line.slice(colon + 1);
          if (value[0] === " ") value = value.slice(1);
          if (field === "event") this.event = value;
          else if (field === "data") this.data.push(value);
        }
      }
      return events;
    }
  }

  /** The text colour (near-black or white) meeting WCAG AA on a hex background. */
  function onColor(hex) {
    const rgb = parseHex(hex);
    if (!rgb) return "#ffffff";
    const lin = rgb.map((c) => (c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
    const lum = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
    return lum > 0.179 ? "#111111" : "#ffffff";
  }

  function parseHex(hex) {
    const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(String(hex || "").trim());
    if (!m) return null;
    const h = m[1].length === 3 ? [...m[1]].map((c) => c + c).join("") : m[1];
    return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16));
  }

  const STRINGS = {
    en: {
      open: "Open chat", close: "Close chat", send: "Send", placeholder: "Ask a question…",
      typing: "The assistant is typing…", reset: "New conversation", sources: "Sources",
      passage: "Show passage", you: "You", bot: "Assistant", agent: "Agent",
      network: "Can't reach the assistant. Check your connection and try again.",
      limited: "Too many messages for now. Please try again a little later.",
      full: "This conversation has reached its message limit. Start a new conversation.",
      origin: "This chat is not enabled on this website.",
      generic: "Something went wrong. Please try again.",
      privacy: "Privacy notice", handoff: "Talk to a person",
      handoffSent: "A person will reply here as soon as possible.",
      closed: "This conversation has been closed. Write again to start a new one.",
      lead: "Leave your details and we'll get back to you.", name: "Name", email: "E-mail",
      submit: "Send my details", leadThanks: "Thank you! We'll be in touch.",
      leadButton: "Contact me", input: "Your message",
      up: "Helpful answer", down: "Unhelpful answer",
    },
    fr: {
      open: "Ouvrir le chat", close: "Fermer le chat", send: "Envoyer",
      placeholder: "Posez votre question…", typing: "L'assistant écrit…",
      reset: "Nouvelle conversation", sources: "Sources", passage: "Voir le passage",
      you: "Vous", bot: "Assistant", agent: "Conseiller",
      network: "Impossible de joindre l'assistant. Vérifiez votre connexion et réessayez.",
      limited: "Trop de messages pour le moment. Réessayez un peu plus tard.",
      full: "Cette conversation a atteint sa limite de messages. Commencez-en une nouvelle.",
      origin: "Ce chat n'est pas activé sur ce site.",
      generic: "Une erreur est survenue. Veuillez réessayer.",
      privacy: "Politique de confidentialité", handoff: "Parler à une personne",
      handoffSent: "Une personne vous répondra ici dès que possible.",
      closed: "Cette conversation est terminée. Écrivez à nouveau pour en commencer une autre.",
      lead: "Laissez vos coordonnées, nous vous recontacterons.", name: "Nom",
      email: "E-mail", submit: "Envoyer mes coordonnées",
      leadThanks: "Merci ! Nous revenons vers vous rapidement.", leadButton: "Être recontacté",
      input: "Votre message",
      up: "Réponse utile", down: "Réponse pas utile",
    },
  };

  /** The UI language: the first supported of the given tags (e.g. "fr-CA" gives "fr"). */
  function pickLanguage(...tags) {
    for (const tag of tags) {
      const code = String(tag || "").toLowerCase().split(/[-_]/)[0];
      if (STRINGS[code]) return code;
    }
    return "en";
  }

  /** The message a visitor sees for an HTTP status and error body (never the raw body). */
  function errorKey(status, body) {
    if (status === 0) return "network";
    if (status === 403) return "origin";
    if (status === 429) return body && body.quota === "conversation" ? "full" : "limited";
    if (status === 409 && body && body.code === "limit_reached") return "full";
    return "generic";
  }

  /** The checked text to show instead of what streamed, or null to keep it: the verdict's
   * answer when it dropped claims or differs, and the final answer of done. */
  function checkedText(shown, event, data) {
    if (!data || typeof data.answer !== "string" || data.answer === shown) return null;
    if (event === "verdict" || event === "done") return data.answer;
    return null;
  }

  const pure = { checkedText, safeUrl, parseInline, parseMarkdown, toNodes, SSEParser, onColor, pickLanguage, errorKey, STRINGS };
  if (typeof module === "object" && module.exports) {
    module.exports = pure;
    return;
  }
  if (typeof customElements === "undefined" || customElements.get("kb-chat")) return;

  // ---- the element ---------------------------------------------------------------------------

  const SCRIPT = document.currentScript;
  const HELD = ["waiting_for_agent", "agent"];
  const RETRY_MS = 5000;
  const SCRIPT_ORIGIN = SCRIPT && SCRIPT.src ? new URL(SCRIPT.src, location.href).origin : location.origin;
  const ATTRS = ["title", "avatar", "color", "position", "welcome", "suggestions", "placeholder", "lang", "citations", "privacy-url", "lead", "lead-fields", "handoff"];
  const CSS = `
:host{all:initial;--kb-primary:#1d4ed8;--kb-on-primary:#fff;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827}
*{box-sizing:border-box}
[hidden]{display:none!important}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
button,textarea,input{font:inherit;color:inherit}
button{cursor:pointer}
:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.launcher{position:fixed;bottom:20px;right:20px;z-index:2147483646;width:56px;height:56px;border-radius:50%;border:0;background:var(--kb-primary);color:var(--kb-on-primary);box-shadow:0 4px 14px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center}
.left .launcher,.left .panel.float{right:auto;left:20px}
.panel{display:flex;flex-direction:column;background:#fff;border:1px solid #d1d5db;border-radius:12px;overflow:hidden}
.panel.float{position:fixed;bottom:88px;right:20px;z-index:2147483647;width:370px;height:min(600px,calc(100vh - 110px));box-shadow:0 10px 30px rgba(0,0,0,.2)}
.panel.inline{width:100%;height:100%;min-height:420px}
header{display:flex;align-items:center;gap:8px;padding:10px 12px;background:var(--kb-primary);color:var(--kb-on-primary)}
header h2{flex:1;margin:0;font-size:16px;font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
header img{width:28px;height:28px;border-radius:50%;object-fit:cover}
header button{background:transparent;border:0;color:inherit;padding:4px 6px;border-radius:6px;font-size:18px;line-height:1}
.log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:10px}
.msg{max-width:88%;display:flex;flex-direction:column;gap:4px}
.msg.user{align-self:flex-end}
.bubble{padding:8px 12px;border-radius:12px;background:#f3f4f6;color:#111827;overflow-wrap:anywhere}
.user .bubble{background:var(--kb-primary);color:var(--kb-on-primary);white-space:pre-wrap}
.bubble p{margin:0 0 6px}.bubble p:last-child{margin:0}
.bubble ul,.bubble ol{margin:4px 0;padding-left:20px}
.bubble code{font-family:ui-monospace,monospace;background:#e5e7eb;padding:0 3px;border-radius:3px}
.bubble pre{overflow-x:auto;background:#e5e7eb;padding:6px;border-radius:6px}
.bubble a,.sources a,footer a{color:#1d4ed8}
.user .bubble a{color:inherit}
.agent .bubble{background:#ecfdf5;border:1px solid #047857;white-space:pre-wrap}
.who{font-size:12px;color:#374151}
.sources{margin:0;padding:0 0 0 4px;list-style:none;font-size:13px;color:#374151}
.sources li{margin:2px 0}
.sources summary{cursor:pointer}
.sources blockquote{margin:4px 0;padding:4px 8px;border-left:3px solid #9ca3af;background:#f9fafb;white-space:pre-wrap}
.rating{display:flex;gap:4px}.rate{background:none;border:1px solid transparent;border-radius:6px;padding:0 4px;font-size:14px;opacity:.6}.rate[aria-pressed=true]{opacity:1;border-color:var(--kb-primary)}
.chips{display:flex;flex-wrap:wrap;gap:6px;padding:0 12px 8px}
.chip{border:1px solid var(--kb-primary);background:#fff;color:#1f2937;border-radius:16px;padding:4px 10px;font-size:14px}
.typing{padding:0 16px 6px;color:#4b5563;font-size:13px}
.notice{margin:8px 12px 0;padding:8px 10px;border-radius:8px;background:#fef2f2;color:#991b1b;font-size:14px}
form.composer{display:flex;gap:8px;padding:10px 12px;border-top:1px solid #e5e7eb}
textarea{flex:1;resize:none;border:1px solid #6b7280;border-radius:8px;padding:8px;max-height:120px;background:#fff}
.send{border:0;border-radius:8px;padding:0 14px;background:var(--kb-primary);color:var(--kb-on-primary);font-weight:600}
button:disabled,textarea:disabled{opacity:.6;cursor:not-allowed}
form.lead{display:flex;flex-direction:column;gap:6px;margin:0 12px 8px;padding:10px;border:1px solid #d1d5db;border-radius:8px;font-size:14px}
form.lead input{border:1px solid #6b7280;border-radius:6px;padding:6px}
footer{display:flex;gap:12px;justify-content:space-between;padding:0 12px 8px;font-size:12px;color:#4b5563}
footer button{background:none;border:0;padding:0;color:#1d4ed8;text-decoration:underline;font-size:12px}
@media (max-width:480px){.panel.float{inset:0;width:100%;height:100%;max-height:none;border-radius:0;bottom:0;right:0;left:0}}
`;

  function el(tag, props = {}, kids = []) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (v == null || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k === "on") for (const [e, fn] of Object.entries(v)) node.addEventListener(e, fn);
      else if (k === "class") node.className = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const kid of kids) if (kid) node.appendChild(kid);
    return node;
  }

  function randomId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
  }

  class HttpError extends Error {
    constructor(status, body) {
      super("HTTP " + status);
      this.status = status;
      this.body = body;
    }
  }

  class KBChatElement extends HTMLElement {
    connectedCallback() {
      if (this._root) return;
      this._listeners = {};
      this._floating = this.hasAttribute("data-floating");
      this._host = (this.dataset.host || SCRIPT_ORIGIN).replace(/\/+$/, "");
      this._key = this.dataset.key || "";
      this._store = "kbchat:" + (this._key || this.dataset.kb || "default");
      this._state = this._load();
      this._seen = new Set();
      this._config = {};
      this._busy = false;
      this._build();
      this._ready = this._fetchConfig();
      instances.push(this);
      if (this._state.conversationId) this._ready.then(() => this._loadHistory());
    }

    // ---- configuration ----
    _opt(name, fallback) {
      const attr = this.getAttribute("data-" + name);
      if (attr != null) return attr;
      const key = name.replace(/-/g, "_");
      const value = this._config[key];
      return value == null ? fallback : value;
    }

    async _fetchConfig() {
      const params = new URLSearchParams();
      if (this._key) params.set("key", this._key);
      if (this.dataset.kb) params.set("kb", this.dataset.kb);
      try {
        // A simple GET (the key in the query, no custom header): no preflight, so even a
        // refused origin can read why it was refused.
        this._config = await this._request("GET", "/v1/widget/config?" + params, null, false);
        this._applyConfig();
        return true;
      } catch (err) {
        this._lastError = err;
        this._fail(err);
        if (err.status === 403) this._lock();
        return false;
      }
    }

    _t(key) {
      return STRINGS[this._lang][key];
    }

    _applyConfig() {
      this._lang = pickLanguage(this._opt("lang"), document.documentElement.lang, navigator.language);
      const t = (k) => this._t(k);
      const color = this._opt("color", "");
      if (parseHex(color)) {
        // CSSOM, not a style attribute: allowed under a strict style-src.
        this.style.setProperty("--kb-primary", color);
        this.style.setProperty("--kb-on-primary", onColor(color));
      }
      const title = this._opt("title", t("bot"));
      this._ui.title.textContent = title;
      this._ui.panel.setAttribute("aria-label", title);
      this._ui.root.classList.toggle("left", this._opt("position", "right") === "left");
      const avatar = safeUrl(this._opt("avatar", ""));
      this._ui.avatar.hidden = !avatar;
      if (avatar) this._ui.avatar.setAttribute("src", avatar);
      this._ui.input.placeholder = this._opt("placeholder", t("placeholder"));
      this._ui.inputLabel.textContent = t("input");
      this._ui.send.textContent = t("send");
      this._ui.reset.setAttribute("aria-label", t("reset"));
      this._ui.reset.title = t("reset");
      this._ui.close.setAttribute("aria-label", t("close"));
      this._ui.launcher.setAttribute("aria-label", t("open") + ": " + title);
      this._ui.typing.textContent = t("typing");
      const privacy = safeUrl(this._opt("privacy-url", ""));
      this._ui.privacy.hidden = !privacy;
      if (privacy) this._ui.privacy.setAttribute("href", privacy);
      this._ui.privacy.textContent = t("privacy");
      this._showHandoff();
      this._ui.handoff.textContent = t("handoff");
      this._ui.leadButton.textContent = t("leadButton");
      this._showLeadButton();
      this._renderAll();
    }

    // ---- DOM ----
    _build() {
      const shadow = this.attachShadow({ mode: "open" });
      if ("adoptedStyleSheets" in shadow && typeof CSSStyleSheet === "function" && "replaceSync" in CSSStyleSheet.prototype) {
        const sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
        shadow.adoptedStyleSheets = [sheet];
      } else {
        shadow.appendChild(el("style", { text: CSS })); // needs style-src 'unsafe-inline'
      }
      const ui = (this._ui = {});
      ui.launcher = el("button", {
        class: "launcher", type: "button", "aria-haspopup": "dialog", "aria-expanded": "false",
        "aria-controls": "kb-panel", hidden: !this._floating, on: { click: () => this.toggle() },
      }, [icon("M4 4h16v12H7l-3 3z")]);
      ui.avatar = el("img", { alt: "", hidden: true });
      ui.title = el("h2", { id: "kb-title" });
      ui.reset = el("button", { type: "button", text: "↺", on: { click: () => this.reset() } });
      ui.close = el("button", { type: "button", text: "✕", hidden: !this._floating, on: { click: () => this.close() } });
      ui.notice = el("div", { class: "notice", role: "alert", hidden: true });
      ui.log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-labelledby": "kb-title", tabindex: "0" });
      ui.typing = el("div", { class: "typing", role: "status", hidden: true });
      ui.chips = el("div", { class: "chips" });
      ui.lead = el("form", { class: "lead", hidden: true, on: { submit: (e) => this._submitLead(e) } });
      ui.input = el("textarea", { id: "kb-input", rows: "1", maxlength: "4000", on: { keydown: (e) => this._onKey(e), input: () => this._onTyping() } });
      ui.inputLabel = el("label", { class: "sr", for: "kb-input" });
      ui.send = el("button", { class: "send", type: "submit" });
      ui.composer = el("form", { class: "composer", on: { submit: (e) => { e.preventDefault(); this._sendInput(); } } }, [ui.inputLabel, ui.input, ui.send]);
      ui.privacy = el("a", { target: "_blank", rel: "noopener noreferrer", hidden: true });
      ui.handoff = el("button", { type: "button", hidden: true, on: { click: () => this._handoff() } });
      ui.leadButton = el("button", { type: "button", hidden: true, on: { click: () => this._openLead() } });
      ui.panel = el("section", {
        id: "kb-panel", class: "panel " + (this._floating ? "float" : "inline"),
        role: this._floating ? "dialog" : "region", hidden: this._floating,
        on: { keydown: (e) => { if (e.key === "Escape" && this._floating) { e.stopPropagation(); this.close(); } } },
      }, [
        el("header", {}, [ui.avatar, ui.title, ui.reset, ui.close]),
        ui.notice, ui.log, ui.typing, ui.chips, ui.lead, ui.composer,
        el("footer", {}, [ui.privacy, el("span", {}, [ui.leadButton, ui.handoff])]),
      ]);
      ui.root = el("div", { class: "root" }, [ui.launcher, ui.panel]);
      shadow.appendChild(ui.root);
      this._lang = pickLanguage(this.dataset.lang, document.documentElement.lang, navigator.language);
      this._applyConfig();
    }

    _renderAll() {
      const log = this._ui.log;
      while (log.firstChild) log.removeChild(log.firstChild);
      const welcome = this._opt("welcome", "");
      if (welcome) log.appendChild(this._messageNode({ role: "bot", text: welcome }));
      for (const m of this._messages || []) log.appendChild((m.node = this._messageNode(m)));
      this._renderChips();
      log.scrollTop = log.scrollHeight;
    }

    _messageNode(m) {
      const who = el("span", { class: "sr", text: (m.role === "user" ? this._t("you") : m.role === "agent" ? m.name || this._t("agent") : this._t("bot")) + ": " });
      const bubble = el("div", { class: "bubble" });
      if (m.role === "user" || m.role === "agent") bubble.textContent = m.text;
      else for (const n of toNodes(parseMarkdown(m.text), document)) bubble.appendChild(n);
      const name = m.role === "agent" ? el("span", { class: "who", "aria-hidden": "true", text: m.name || this._t("agent") }) : null;
      const node = el("div", { class: "msg " + m.role, "aria-busy": m.streaming ? "true" : null }, [who, name, bubble]);
      if (m.citations && m.citations.length && isOn(this._opt("citations", true))) node.appendChild(this._sources(m.citations));
      if (m.role === "bot" && m.id && !m.streaming) node.appendChild(this._rating(m));
      if (m.actions && m.actions.length && m === this._messages[this._messages.length - 1]) {
        node.appendChild(el("div", { class: "chips" }, m.actions.map((a) => el("button", {
          class: "chip", type: "button", text: a.title || a.payload,
          on: { click: () => (a.type === "handoff" ? this._handoff() : this._send({ action: { type: a.type === "button" ? "button" : "quick_reply", payload: String(a.payload), title: a.title || null } }, a.title || a.payload)) },
        }))));
      }
      return node;
    }

    /** Thumbs up / down on a bot answer, sent as the message's feedback (a new one replaces it). */
    _rating(m) {
      const buttons = ["up", "down"].map((rating) => el("button", {
        type: "button", class: "rate", "aria-label": this._t(rating), title: this._t(rating),
        "aria-pressed": String(m.rating === rating), text: rating === "up" ? "👍" : "👎",
        on: { click: () => this._rate(m, rating) },
      }));
      return el("div", { class: "rating" }, buttons);
    }

    async _rate(m, rating) {
      try {
        await this._request("POST", "/v1/messages/" + encodeURIComponent(m.id) + "/feedback", { rating });
        m.rating = rating;
        this._update(m);
        this._emit("feedback", { messageId: m.id, rating });
      } catch (err) {
        this._fail(err);
      }
    }

    _sources(citations) {
      const list = el("ol", { class: "sources", "aria-label": this._t("sources") });
      for (const c of citations) {
        const href = safeUrl(c.source);
        const label = "[" + c.number + "] " + (c.title || c.source || "");
        const passage = c.quote || c.text;
        const item = el("li", {}, [href ? el("a", { href, target: "_blank", rel: "noopener noreferrer", text: label }) : el("span", { text: label })]);
        if (passage) item.appendChild(el("details", {}, [el("summary", { text: this._t("passage") }), el("blockquote", { text: passage })]));
        list.appendChild(item);
      }
      return list;
    }

    _renderChips() {
      const chips = this._ui.chips;
      while (chips.firstChild) chips.removeChild(chips.firstChild);
      if ((this._messages || []).length) return;
      let list = this._opt("suggestions", []);
      if (typeof list === "string") list = list.split("|");
      for (const q of list.map((s) => String(s).trim()).filter(Boolean).slice(0, 6)) {
        chips.appendChild(el("button", { class: "chip", type: "button", text: q, on: { click: () => this.ask(q) } }));
      }
    }

    _update(m) {
      const node = this._messageNode(m);
      if (m.node && m.node.parentNode) m.node.parentNode.replaceChild(node, m.node);
      else this._ui.log.appendChild(node);
      m.node = node;
      this._ui.log.scrollTop = this._ui.log.scrollHeight;
    }

    _notice(key) {
      this._ui.notice.hidden = !key;
      this._ui.notice.textContent = key ? this._t(key) : "";
    }

    _fail(err) {
      const status = err instanceof HttpError ? err.status : 0;
      const key = errorKey(status, err && err.body);
      this._notice(key);
      this._emit("error", { status, message: this._t(key) });
    }

    _lock() {
      this._locked = true;
      this._ui.input.disabled = this._ui.send.disabled = true;
    }

    // ---- HTTP ----
    async _request(method, path, body, auth = true) {
      const headers = {};
      if (body) headers["Content-Type"] = "application/json";
      if (auth && this._key) headers["X-API-Key"] = this._key;
      if (auth && this._state.visitorToken) headers["X-Visitor-Token"] = this._state.visitorToken;
      let response;
      try {
        response = await fetch(this._host + path, { method, headers, body: body ? JSON.stringify(body) : undefined, credentials: "omit", mode: "cors" });
      } catch (_) {
        throw new HttpError(0, null);
      }
      if (!response.ok) throw new HttpError(response.status, await response.json().catch(() => null));
      if (response.status === 204 || response.status === 202) return response.json().catch(() => ({}));
      return response.json();
    }

    _load() {
      try {
        return JSON.parse(localStorage.getItem(this._store)) || {};
      } catch (_) {
        return {};
      }
    }

    _save() {
      try {
        localStorage.setItem(this._store, JSON.stringify(this._state));
      } catch (_) { /* private mode: the conversation lasts as long as the page */ }
    }

    _userId() {
      if (!this._state.userId) {
        this._state.userId = "visitor_" + randomId();
        this._save();
      }
      return this._state.userId;
    }

    async _loadHistory() {
      const id = this._state.conversationId;
      try {
        const page = await this._request("GET", "/v1/conversations/" + encodeURIComponent(id) + "/history?limit=200");
        this._messages = page.items.map((m) => ({
          role: m.role, text: m.text, citations: m.citations, name: m.agent_name,
          id: m.role === "bot" ? m.id : null, rating: m.feedback ? m.feedback.rating : null,
        }));
        for (const m of page.items) this._seen.add(m.id);
        this._renderAll();
        if (HELD.includes(this._state.handoff)) this._poll();
      } catch (err) {
        if (err.status === 404) this.reset(false);
        else this._fail(err);
      }
    }

    // ---- sending ----
    _onKey(e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this._sendInput();
      }
    }

    _onTyping() {
      const now = Date.now();
      if (!this._state.conversationId || now - (this._typedAt || 0) < 5000) return;
      this._typedAt = now;
      this._event("typing");
    }

    _event(type) {
      if (!this._state.conversationId) return;
      this._request("POST", "/v1/conversations/" + encodeURIComponent(this._state.conversationId) + "/events", { type }).catch(() => {});
    }

    _sendInput() {
      const text = this._ui.input.value.trim();
      if (!text || this._busy || this._locked) return;
      this._ui.input.value = "";
      this._send({ text }, text);
    }

    async _send(content, shown) {
      if (this._busy || this._locked) return;
      this._busy = true;
      this._ui.send.disabled = true;
      this._notice(null);
      this._messages = this._messages || [];
      const user = { role: "user", text: shown };
      this._messages.push(user);
      this._renderChips();
      this._update(user);
      this._emit("message", { role: "user", text: shown });
      const bot = { role: "bot", text: "", streaming: true };
      this._ui.typing.hidden = false;
      try {
        if (!(await this._ready) && !this._config.kb_id) this._ready = this._fetchConfig();
        if (!(await this._ready)) throw this._lastError || new HttpError(0, null);
        await this._stream(content, bot);
      } catch (err) {
        this._fail(err);
        if (!bot.text) {
          // Nothing was answered: take the message back into the input to try again.
          this._messages.splice(this._messages.indexOf(user), 1);
          user.node.remove();
          if (content.text && !this._ui.input.value) this._ui.input.value = content.text;
        }
      } finally {
        this._busy = false;
        this._ui.send.disabled = !!this._locked;
        this._ui.typing.hidden = true;
        bot.streaming = false;
        if (bot.node) this._update(bot);
      }
    }

    async _stream(content, bot) {
      const body = { kb_id: this._config.kb_id, user_id: this._userId(), stream: true, ...content };
      if (this._state.conversationId) body.conversation_id = this._state.conversationId;
      const headers = { "Content-Type": "application/json", Accept: "text/event-stream" };
      if (this._key) headers["X-API-Key"] = this._key;
      if (this._state.visitorToken) headers["X-Visitor-Token"] = this._state.visitorToken;
      let response;
      try {
        response = await fetch(this._host + "/v1/messages/send", { method: "POST", headers, body: JSON.stringify(body), credentials: "omit" });
      } catch (_) {
        throw new HttpError(0, null);
      }
      if (!response.ok) {
        const error = await response.json().catch(() => null);
        if (response.status === 404 && body.conversation_id) this.reset(false);
        throw new HttpError(response.status, error);
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      const parser = new SSEParser();
      for (;;) {
        const { value, done } = await reader.read();
        const events = parser.feed(done ? decoder.decode() : decoder.decode(value, { stream: true }));
        for (const e of events) this._onEvent(e, bot);
        if (done) break;
      }
    }

    _onEvent(e, bot) {
      let data;
      try {
        data = JSON.parse(e.data);
      } catch (_) {
        return;
      }
      if (e.event === "delta") {
        if (!bot.node) this._messages.push(bot);
        this._ui.typing.hidden = true;
        bot.text += data.text || "";
        this._update(bot);
      } else if (e.event === "verdict") {
        const checked = checkedText(bot.text, e.event, data);
        if (checked !== null) this._replace(bot, checked);
      } else if (e.event === "citations") {
        bot.citations = data.citations || [];
      } else if (e.event === "done") {
        const checked = checkedText(bot.text, e.event, data);
        if (checked !== null) this._replace(bot, checked);
        bot.actions = data.buttons || data.quick_replies || [];
        if (data.conversation_id) this._state.conversationId = data.conversation_id;
        if (data.visitor_token) this._state.visitorToken = data.visitor_token;
        for (const id of [data.user_message_id, data.message_id]) if (id) this._seen.add(id);
        if (data.message_id && data.model !== "handoff") bot.id = data.message_id;
        this._onHandoff(data, bot);
        this._save();
        bot.streaming = false;
        this._update(bot);
        this._showLeadButton();
        const lead = this._opt("lead", "off");
        if (lead === "after_answer" && !this._state.leadSent && !this._leadOffered) (this._leadOffered = true), this._openLead();
        this._emit("answer", { text: bot.text, citations: bot.citations, conversationId: this._state.conversationId });
        this._emit("message", { role: "bot", text: bot.text });
        if (this._isOpen()) this._event("read");
      } else if (e.event === "error") {
        throw new HttpError(data.status || 500, data);
      }
    }

    _replace(bot, text) {
      if (!bot.node) this._messages.push(bot);
      bot.text = text;
      this._update(bot);
    }

    // ---- lead form and handoff ----
    _showLeadButton() {
      const lead = this._opt("lead", "off");
      this._ui.leadButton.hidden = lead === "off" || !this._state.conversationId || !!this._state.leadSent;
    }

    _openLead() {
      const form = this._ui.lead;
      while (form.firstChild) form.removeChild(form.firstChild);
      let extra = this._opt("lead-fields", []);
      if (typeof extra === "string") extra = extra.split("|");
      const user = this._user || {};
      const field = (name, label, type, value, required) => el("label", {}, [
        el("span", { text: label + (required ? " *" : "") }), el("br"),
        el("input", { name, type, required, maxlength: "200", autocomplete: name === "email" ? "email" : name === "name" ? "name" : null, value: value || null }),
      ]);
      form.append(el("p", { text: this._t("lead") }), field("name", this._t("name"), "text", user.name, true), field("email", this._t("email"), "email", user.email, true));
      for (const name of extra.map((s) => String(s).trim()).filter(Boolean).slice(0, 5)) form.appendChild(field("field:" + name, name, "text", "", false));
      form.appendChild(el("button", { class: "send", type: "submit", text: this._t("submit") }));
      form.hidden = false;
      form.querySelector("input").focus();
    }

    async _submitLead(e) {
      e.preventDefault();
      const data = new FormData(this._ui.lead);
      const fields = {};
      for (const [k, v] of data) if (k.startsWith("field:") && String(v).trim()) fields[k.slice(6)] = String(v);
      const question = (this._messages || []).filter((m) => m.role === "user").map((m) => m.text).slice(-1)[0] || "";
      try {
        const lead = await this._request("POST", "/v1/conversations/" + encodeURIComponent(this._state.conversationId) + "/lead", { name: String(data.get("name")), email: String(data.get("email")), question, fields });
        this._state.leadSent = true;
        this._save();
        this._ui.lead.hidden = true;
        this._showLeadButton();
        this._messages.push({ role: "bot", text: this._t("leadThanks") });
        this._renderAll();
        this._emit("lead", lead);
      } catch (err) {
        this._fail(err);
      }
    }

    _showHandoff() {
      // Hidden while a person already has the conversation.
      this._ui.handoff.hidden = !isOn(this._opt("handoff", false)) || HELD.includes(this._state.handoff);
    }

    _handoff() {
      this._emit("handoff", { conversationId: this._state.conversationId || null });
      const label = this._t("handoff");
      return this._send({ action: { type: "handoff", payload: label, title: label } }, label);
    }

    // A done event saying a person answers: their notice, the lead form out of hours, polling.
    _onHandoff(data, bot) {
      if (!data.state) return;
      this._state.handoff = data.state;
      this._showHandoff();
      if (!HELD.includes(data.state)) return;
      if (data.state === "agent" && !data.message_id) {
        // Held by a person: nothing to add to what they will write.
        this._messages.splice(this._messages.indexOf(bot), 1);
        if (bot.node) bot.node.remove();
        bot.node = null;
      } else if (data.handoff_notice && data.handoff_notice !== data.answer) {
        this._messages.push({ role: "bot", text: data.handoff_notice });
        this._renderAll();
      }
      if (data.handoff_lead_form === "true" && !this._state.leadSent) this._openLead();
      this._poll();
    }

    // Agents' replies: long-polled while a person holds the conversation.
    async _poll() {
      clearTimeout(this._pollTimer);
      const id = this._state.conversationId;
      if (!id || !this.isConnected) return;
      let events;
      try {
        // Long polling: the engine answers when something happens, or after `wait` seconds.
        events = await this._request("GET", "/v1/conversations/" + encodeURIComponent(id) + "/events?wait=20&after=" + (this._cursor || 0));
      } catch (err) {
        if (err.status === 404) return;
        events = null;
      }
      if (id !== this._state.conversationId) return;
      if (events) {
        this._cursor = events.cursor;
        for (const m of events.items) {
          if (this._seen.has(m.id)) continue;
          this._seen.add(m.id);
          if (m.role !== "agent") continue;
          const shown = { role: "agent", text: m.text, name: m.agent_name };
          this._messages.push(shown);
          this._update(shown);
          this._emit("message", { role: "agent", text: m.text, name: m.agent_name });
        }
        this._state.handoff = events.state;
        this._showHandoff();
        if (events.state === "closed") {
          this._messages.push({ role: "bot", text: this._t("closed") });
          this._renderAll();
          const userId = this._state.userId;
          this._state = { userId };
        }
        this._save();
        if (!HELD.includes(events.state)) return;
      }
      this._pollTimer = setTimeout(() => this._poll(), events ? 250 : RETRY_MS);
    }

    // ---- public API ----
    _isOpen() {
      return !this._floating || !this._ui.panel.hidden;
    }

    open() {
      if (!this._floating || this._isOpen()) return;
      this._ui.panel.hidden = false;
      this._ui.launcher.setAttribute("aria-expanded", "true");
      this._ui.input.focus();
      this._event("read");
      this._emit("open", {});
    }

    close() {
      if (!this._floating || !this._isOpen()) return;
      this._ui.panel.hidden = true;
      this._ui.launcher.setAttribute("aria-expanded", "false");
      this._ui.launcher.focus();
      this._emit("close", {});
    }

    toggle() {
      this._isOpen() ? this.close() : this.open();
    }

    ask(text) {
      this.open();
      const q = String(text || "").trim();
      return q ? this._send({ text: q }, q) : Promise.resolve();
    }

    reset(focus = true) {
      const userId = this._state.userId;
      this._state = { userId };
      this._save();
      clearTimeout(this._pollTimer);
      this._cursor = 0;
      this._seen = new Set();
      this._messages = [];
      this._leadOffered = false;
      this._showHandoff();
      this._ui.lead.hidden = true;
      this._notice(null);
      this._showLeadButton();
      this._renderAll();
      if (focus !== false) this._ui.input.focus();
    }

    setUser(user) {
      const u = user || {};
      const id = u.id != null ? String(u.id).slice(0, 200) : null;
      this._user = { id, name: u.name ? String(u.name) : null, email: u.email ? String(u.email) : null };
      if (id && id !== this._state.userId) {
        // A conversation belongs to one user id: another user starts afresh.
        this._state = { userId: id };
        this._save();
        this._messages = [];
        this._renderAll();
      }
    }

    on(event, fn) {
      (this._listeners[event] = this._listeners[event] || []).push(fn);
    }

    off(event, fn) {
      this._listeners[event] = (this._listeners[event] || []).filter((f) => f !== fn);
    }

    _emit(event, detail) {
      for (const fn of [...(this._listeners[event] || []), ...(globalListeners[event] || [])]) {
        try {
          fn(detail);
        } catch (err) {
          setTimeout(() => { throw err; });
        }
      }
      this.dispatchEvent(new CustomEvent("kb-chat:" + event, { detail, bubbles: true, composed: true }));
    }
  }

  function isOn(value) {
    return value === true || (typeof value === "string" && /^(on|true|1|yes)$/i.test(value));
  }

  function icon(d) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "26");
    svg.setAttribute("height", "26");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }

  const instances = [];
  const globalListeners = {};
  const primary = () => instances.find((i) => i._floating) || instances[0];
  const call = (name) => (...args) => {
    const target = primary();
    return target ? target[name](...args) : undefined;
  };

  customElements.define("kb-chat", KBChatElement);
  window.KBChat = Object.freeze({
    open: call("open"),
    close: call("close"),
    toggle: call("toggle"),
    ask: call("ask"),
    reset: call("reset"),
    setUser: call("setUser"),
    on(event, fn) {
      (globalListeners[event] = globalListeners[event] || []).push(fn);
    },
    off(event, fn) {
      globalListeners[event] = (globalListeners[event] || []).filter((f) => f !== fn);
    },
    get instances() {
      return instances.slice();
    },
  });

  // One tag: a script with data-key adds the floating launcher, carrying its data-* options.
  if (SCRIPT && SCRIPT.dataset.key) {
    const mount = () => {
      const chat = document.createElement("kb-chat");
      chat.setAttribute("data-floating", "");
      chat.setAttribute("data-key", SCRIPT.dataset.key);
      for (const name of [...ATTRS, "host", "kb"]) {
        const value = SCRIPT.getAttribute("data-" + name);
        if (value != null) chat.setAttribute("data-" + name, value);
      }
      document.body.appendChild(chat);
    };
    document.body ? mount() : document.addEventListener("DOMContentLoaded", mount);
  }
})();
