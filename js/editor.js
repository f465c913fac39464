// CodeMirror 6 adapter for the playground's ruleset editor.
//
// Bundled by `npm run bundle` (esbuild, run by Trunk's pre_build hook) into
// js/dist/editor.js, which the Rust side binds with
// `#[wasm_bindgen(module = "/js/dist/editor.js")]`. The one export and the
// handle's method names and argument orders are a contract with src/:
//
//   createEditor(parent, doc, onChange, label, debounceMs) -> handle
//   handle.setDoc(text)            handle.getDoc() -> string
//   handle.setDiagnostics(json)    handle.highlightLine(line)
//   handle.setGutterText(json)     handle.selectLine(line)
//   handle.focus()                 handle.destroy()
//
// Lines are 1-based everywhere; columns are 1-based counts of characters
// (Unicode scalar values) of their line. Out-of-range lines and columns are
// clamped to the document.
//
// The adapter remembers the last diagnostics, gutter text and current-rule
// line it was given, by line number. setDoc re-applies all three to the new
// document (clamped), so the order in which the Rust side pushes the document
// and its annotations does not matter; push new ones (or "[]" / 0) to change
// or clear them.
//
// setDoc replaces only the part of the text that differs (undoable with
// Ctrl-Z, which reports the restored text through onChange like any user
// edit); when most of the text is new it also moves the cursor and the scroll
// position to the start.
//
// Module-level values are immutable definitions; all mutable state lives in
// createEditor's closure, so two editors on a page, or two copies of the
// module, do not interfere. The only global is CodeMirror's own style-mod
// class-name counter (globalThis[Symbol.for("ͼ")]), shared on purpose.
//
// Styling: the theme reads CSS variables, each with a fallback chain ending
// in light-dark(light, dark) (follows the page's `color-scheme`):
//   --editor-bg (then --panel)     editor background
//   --fg (then --text)             text and caret
//   --gutter-bg, --gutter-fg (then --muted), --editor-border (then --line)
//   --accent                       focus outline
//   --selection-bg, --selection-bg-blur, --selection-match-bg
//   --active-line-bg, --current-rule-bg (translucent: line backgrounds are
//   painted above the selection), --current-rule-bar (then --warning)
//   --search-match-bg, --search-match-selected-bg, --tooltip-bg (then --panel)
//   --error, --warning             diagnostic borders in tooltips
//   --hit-matched (then --ok), --hit-missed (then --muted)
//   --editor-font (then --mono), --editor-font-size (12.5px)
//   --tok-<kind>                   token colours, for the token classes
//   cm-ipt-<kind>: comment table chain-def chain target commit command counter
//   option module string negation number value continuation operator variable

import {
  Annotation,
  ChangeSet,
  EditorSelection,
  EditorState,
  RangeSet,
  StateEffect,
  StateField,
} from "@codemirror/state";
import {
  Decoration,
  EditorView,
  GutterMarker,
  drawSelection,
  gutter,
  gutterLineClass,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
  keymap,
  lineNumbers,
  ViewPlugin,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, isolateHistory } from "@codemirror/commands";
import { highlightSelectionMatches, search, searchKeymap } from "@codemirror/search";

// ---------------------------------------------------------------------------
// Syntax: iptables-save text and shell scripts of iptables commands.
// ---------------------------------------------------------------------------

// Token name (returned by the tokenizer) -> CSS class.
const TOKEN_CLASS = {
  comment: "cm-ipt-comment",
  table: "cm-ipt-table",
  chainDef: "cm-ipt-chain-def",
  chain: "cm-ipt-chain",
  target: "cm-ipt-target",
  commit: "cm-ipt-commit",
  command: "cm-ipt-command",
  counter: "cm-ipt-counter",
  option: "cm-ipt-option",
  module: "cm-ipt-module",
  string: "cm-ipt-string",
  negation: "cm-ipt-negation",
  number: "cm-ipt-number",
  value: "cm-ipt-value",
  continuation: "cm-ipt-continuation",
  operator: "cm-ipt-operator",
  shellVar: "cm-ipt-variable",
};

const BUILTIN_TARGETS = new Set(
  ("ACCEPT DROP RETURN REJECT QUEUE NFQUEUE DNAT SNAT MASQUERADE REDIRECT NETMAP " +
    "MARK CONNMARK LOG NFLOG ULOG CT NOTRACK TPROXY TCPMSS TTL HL DSCP TOS ECN " +
    "CLASSIFY SET AUDIT CHECKSUM TEE TRACE SECMARK CONNSECMARK IDLETIMER LED " +
    "RATEEST SYNPROXY CLUSTERIP HMARK JOURNAL").split(" "),
);

// What the next (non-option) word is.
const E_NONE = 0,
  E_CHAIN = 1, // -A CHAIN
  E_TARGET = 2, // -j TARGET
  E_MODULE = 3, // -m MODULE
  E_CHAIN_TARGET = 4, // -P CHAIN TARGET
  E_CHAIN_CHAIN = 5, // -E OLD NEW
  E_POLICY = 6, // :CHAIN POLICY [p:b]
  E_TABLE = 7; // -t TABLE

const OPTION_EXPECT = new Map([
  ["-A", E_CHAIN], ["--append", E_CHAIN],
  ["-I", E_CHAIN], ["--insert", E_CHAIN],
  ["-N", E_CHAIN], ["--new-chain", E_CHAIN], ["--new", E_CHAIN],
  ["-D", E_CHAIN], ["--delete", E_CHAIN],
  ["-R", E_CHAIN], ["--replace", E_CHAIN],
  ["-C", E_CHAIN], ["--check", E_CHAIN],
  ["-F", E_CHAIN], ["--flush", E_CHAIN],
  ["-X", E_CHAIN], ["--delete-chain", E_CHAIN],
  ["-L", E_CHAIN], ["--list", E_CHAIN],
  ["-S", E_CHAIN], ["--list-rules", E_CHAIN],
  ["-Z", E_CHAIN], ["--zero", E_CHAIN],
  ["-E", E_CHAIN_CHAIN], ["--rename-chain", E_CHAIN_CHAIN],
  ["-P", E_CHAIN_TARGET], ["--policy", E_CHAIN_TARGET],
  ["-j", E_TARGET], ["--jump", E_TARGET],
  ["-g", E_TARGET], ["--goto", E_TARGET],
  ["-m", E_MODULE], ["--match", E_MODULE],
  ["-t", E_TABLE], ["--table", E_TABLE],
]);

// Words that leave the tokenizer at a command's start (sudo iptables ...).
const PREFIX_COMMANDS = new Set(["sudo", "exec", "command", "env", "nice", "time"]);

// Words end at whitespace, quotes and the shell's separators ; | &.
const isOperatorChar = (c) => c === ";" || c === "|" || c === "&";
const isWordChar = (c) => c !== " " && c !== "\t" && c !== '"' && c !== "'" && !isOperatorChar(c);

function isLetter(code) {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

const iptablesParser = {
  name: "iptables",
  startState: () => ({ cmd: true, expect: E_NONE, cont: false }),
  blankLine(state) {
    state.cmd = true;
    state.expect = E_NONE;
    state.cont = false;
  },
  token(stream, state) {
    if (stream.sol()) {
      if (state.cont) state.cont = false; // continued command: keep its state
      else {
        state.cmd = true;
        state.expect = E_NONE;
      }
    }
    if (stream.eatSpace()) return null;
    const line = stream.string;
    const ch = line.charCodeAt(stream.pos);

    if (ch === 35 /* # */) {
      stream.skipToEnd();
      return "comment";
    }
    if (ch === 92 /* \ */ && stream.pos === line.length - 1) {
      stream.next();
      state.cont = true;
      return "continuation";
    }
    if (ch === 34 /* " */) {
      stream.next();
      let escaped = false;
      for (let c; (c = stream.next()) !== undefined; ) {
        if (escaped) escaped = false;
        else if (c === "\\") escaped = true;
        else if (c === '"') break;
      }
      return quotedValue(state);
    }
    if (ch === 39 /* ' */) {
      stream.next();
      if (stream.skipTo("'")) stream.next();
      else stream.skipToEnd();
      return quotedValue(state);
    }
    if (ch === 33 /* ! */ && (stream.pos + 1 === line.length || !isWordChar(line[stream.pos + 1]))) {
      stream.next();
      return "negation";
    }
    if (isOperatorChar(line[stream.pos])) {
      stream.eatWhile(isOperatorChar);
      state.cmd = true;
      state.expect = E_NONE;
      return "operator";
    }

    // A word: everything up to whitespace or a quote.
    stream.eatWhile(isWordChar);
    // `word\` at the end of a line: leave the continuation for the next call.
    if (stream.eol() && stream.pos - stream.start > 1 && line.charCodeAt(stream.pos - 1) === 92) {
      stream.backUp(1);
    }
    const w = stream.current();
    const second = w.length > 1 ? w.charCodeAt(1) : 0;
    const isOption = ch === 45 /* - */ && (isLetter(second) || second === 45);

    if (state.cmd) {
      state.cmd = false;
      if (ch === 42 /* * */) return "table";
      if (ch === 58 /* : */) {
        state.expect = E_POLICY;
        return "chainDef";
      }
      if (ch === 91 /* [ */) return "counter";
      if (w === "COMMIT") return "commit";
      if (!isOption && ch !== 36 /* $ */) {
        if (PREFIX_COMMANDS.has(w)) state.cmd = true;
        return "command";
      }
    }

    if (isOption) {
      state.expect = OPTION_EXPECT.get(w) || E_NONE;
      return "option";
    }

    const expect = state.expect;
    if (expect !== E_NONE) {
      state.expect = E_NONE;
      if (ch === 36 /* $ */) return "shellVar";
      switch (expect) {
        case E_CHAIN:
          return "chain";
        case E_CHAIN_TARGET:
          state.expect = E_TARGET;
          return "chain";
        case E_CHAIN_CHAIN:
          state.expect = E_CHAIN;
          return "chain";
        case E_TARGET:
          return BUILTIN_TARGETS.has(w) ? "target" : "chain";
        case E_MODULE:
          return "module";
        case E_TABLE:
          return "table";
        case E_POLICY:
          if (ch === 91) return "counter"; // ":X [0:0]" without a policy
          return "target";
      }
    }

    if (ch === 91 /* [ */) return "counter";
    if (ch === 36 /* $ */) return "shellVar";
    if ((ch >= 48 && ch <= 57) || (ch === 58 && second === 58)) return "number";
    return "value";
  },
};

function quotedValue(state) {
  state.cmd = false;
  if (state.expect === E_CHAIN_TARGET) state.expect = E_TARGET;
  else if (state.expect === E_CHAIN_CHAIN) state.expect = E_CHAIN;
  else state.expect = E_NONE;
  return "string";
}

// A line as the tokenizer reads it (the part of CodeMirror's StringStream it uses).
class LineStream {
  constructor(string) {
    this.string = string;
    this.pos = 0;
    this.start = 0;
  }
  sol() { return this.pos === 0; }
  eol() { return this.pos >= this.string.length; }
  next() { return this.pos < this.string.length ? this.string[this.pos++] : undefined; }
  eatSpace() {
    const start = this.pos;
    while (this.pos < this.string.length && (this.string[this.pos] === " " || this.string[this.pos] === "\t")) this.pos++;
    return this.pos > start;
  }
  eatWhile(f) {
    const start = this.pos;
    while (this.pos < this.string.length && f(this.string[this.pos])) this.pos++;
    return this.pos > start;
  }
  skipToEnd() { this.pos = this.string.length; }
  skipTo(ch) {
    const at = this.string.indexOf(ch, this.pos);
    if (at < 0) return false;
    this.pos = at;
    return true;
  }
  backUp(n) { this.pos -= n; }
  current() { return this.string.slice(this.start, this.pos); }
}

const MARKS = Object.fromEntries(
  Object.entries(TOKEN_CLASS).map(([name, cls]) => [name, Decoration.mark({ class: cls })]),
);

// Tokenize one line from `state` (updated in place), calling add(from, to, kind).
function tokenizeLine(text, state, add) {
  if (text.length === 0) {
    iptablesParser.blankLine(state);
    return;
  }
  const stream = new LineStream(text);
  while (!stream.eol()) {
    stream.start = stream.pos;
    const kind = iptablesParser.token(stream, state);
    if (stream.pos === stream.start) stream.pos++; // never stall
    if (kind) add(stream.start, stream.pos, kind);
  }
}

// The state a line starts in: fresh, unless earlier lines end with `\`
// (a continued command), which are read first.
function stateBefore(doc, lineNo) {
  let first = lineNo;
  while (first > 1 && first > lineNo - 50 && doc.line(first - 1).text.endsWith("\\")) first--;
  const state = iptablesParser.startState();
  for (let n = first; n < lineNo; n++) tokenizeLine(doc.line(n).text, state, () => {});
  return state;
}

// Highlighting of the visible lines only: a 170,000-line dump costs what the
// screen shows.
function highlightVisible(view) {
  const doc = view.state.doc;
  const ranges = [];
  for (const { from, to } of view.visibleRanges) {
    let line = doc.lineAt(from);
    const state = stateBefore(doc, line.number);
    for (;;) {
      const base = line.from;
      tokenizeLine(line.text, state, (a, b, kind) => ranges.push(MARKS[kind].range(base + a, base + b)));
      if (line.to >= to || line.number >= doc.lines) break;
      line = doc.line(line.number + 1);
    }
  }
  return Decoration.set(ranges, true);
}

const iptablesHighlighting = ViewPlugin.fromClass(
  class {
    constructor(view) { this.decorations = highlightVisible(view); }
    update(u) {
      if (u.docChanged || u.viewportChanged) this.decorations = highlightVisible(u.view);
    }
  },
  { decorations: (v) => v.decorations },
);

// ---------------------------------------------------------------------------
// Theme: colours come from the page's CSS variables, with fallbacks that
// follow the page's `color-scheme` (light-dark()), so the editor is readable
// even where the page defines none of them.
// ---------------------------------------------------------------------------

const cssVar = (names, fallback) =>
  names.reduceRight((inner, name) => `var(--${name}, ${inner})`, fallback);
const ld = (light, dark) => `light-dark(${light}, ${dark})`;

const C = {
  bg: cssVar(["editor-bg", "panel"], ld("#ffffff", "#161c23")),
  fg: cssVar(["fg", "text"], ld("#1f2328", "#d8dee6")),
  gutterBg: cssVar(["gutter-bg", "editor-bg", "panel"], ld("#f6f8fa", "#161c23")),
  gutterFg: cssVar(["gutter-fg", "muted"], ld("#6e7781", "#8a96a3")),
  border: cssVar(["editor-border", "line"], ld("#d0d7de", "#2a323c")),
  accent: cssVar(["accent"], ld("#0969da", "#4c9aff")),
  selection: cssVar(["selection-bg"], ld("#b6d7ff", "#264f78")),
  selectionBlur: cssVar(["selection-bg-blur", "selection-bg"], ld("#d0d7de", "#2d3a48")),
  // Line backgrounds are painted above the selection layer: keep them
  // translucent (also when a page sets these variables), or they hide it.
  activeLine: cssVar(["active-line-bg"], ld("#0969da0f", "#ffffff0d")),
  currentRule: cssVar(["current-rule-bg"], ld("#ffd33d59", "#f2c14e2e")),
  currentRuleBar: cssVar(["current-rule-bar", "warning"], ld("#bf8700", "#f2c14e")),
  searchMatch: cssVar(["search-match-bg"], ld("#fff2a8", "#514a1f")),
  searchMatchSel: cssVar(["search-match-selected-bg"], ld("#ffd33d", "#7a6a18")),
  selectionMatch: cssVar(["selection-match-bg"], ld("#dbe9ff", "#23364d")),
  tooltipBg: cssVar(["tooltip-bg", "panel"], ld("#f6f8fa", "#1c232c")),
  error: cssVar(["error"], ld("#cf222e", "#ff6b6b")),
  warning: cssVar(["warning"], ld("#9a6700", "#f2c14e")),
  hitMatched: cssVar(["hit-matched", "ok"], ld("#1a7f37", "#5ad17a")),
  hitMissed: cssVar(["hit-missed", "muted"], ld("#6e7781", "#8a96a3")),
  font: cssVar(
    ["editor-font", "mono"],
    'ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace',
  ),
  fontSize: cssVar(["editor-font-size"], "12.5px"),
};

// Token colours: --tok-<kind> (the class without "cm-ipt-"), e.g. --tok-comment.
const BOLD = { fontWeight: "bold" };
const TOKEN_STYLE = {
  comment: [ld("#6e7781", "#8b949e"), { fontStyle: "italic" }],
  table: [ld("#8250df", "#d2a8ff"), BOLD],
  commit: [ld("#8250df", "#d2a8ff"), BOLD],
  command: [ld("#8250df", "#d2a8ff"), BOLD],
  counter: [ld("#6e7781", "#8b949e")],
  chainDef: [ld("#0550ae", "#79c0ff"), BOLD],
  chain: [ld("#0550ae", "#79c0ff")],
  target: [ld("#bc4c00", "#ffa657"), BOLD],
  option: [ld("#0e7490", "#56d4dd")],
  module: [ld("#116329", "#7ee787")],
  string: [ld("#0a3069", "#a5d6ff")],
  negation: [ld("#cf222e", "#ff7b72"), BOLD],
  number: [ld("#6639ba", "#bc8cff")],
  value: ["inherit"],
  continuation: [ld("#6e7781", "#8b949e"), BOLD],
  operator: [ld("#cf222e", "#ff7b72")],
  shellVar: [ld("#953800", "#ffa657")],
};

function tokenThemeRules() {
  const rules = {};
  for (const name of Object.keys(TOKEN_STYLE)) {
    const [colour, extra] = TOKEN_STYLE[name];
    const cls = TOKEN_CLASS[name];
    rules["." + cls] = { color: cssVar(["tok-" + cls.slice("cm-ipt-".length)], colour), ...extra };
  }
  return rules;
}

const editorTheme = EditorView.theme({
  "&": {
    height: "100%",
    color: C.fg,
    backgroundColor: C.bg,
    fontSize: C.fontSize,
  },
  "&.cm-focused": { outline: `1px solid ${C.accent}`, outlineOffset: "-1px" },
  ".cm-scroller": { overflow: "auto", fontFamily: C.font, lineHeight: "1.5" },
  ".cm-content": { caretColor: C.fg },
  ".cm-cursor, .cm-dropCursor": { borderLeftColor: C.fg },
  ".cm-selectionBackground, .cm-content ::selection": { backgroundColor: C.selectionBlur },
  "&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, &.cm-focused .cm-content ::selection":
    { backgroundColor: C.selection },
  ".cm-activeLine": { backgroundColor: C.activeLine },
  ".cm-current-rule": {
    backgroundColor: C.currentRule,
    boxShadow: `inset 3px 0 0 ${C.currentRuleBar}`,
  },
  ".cm-selectionMatch": { backgroundColor: C.selectionMatch },
  ".cm-searchMatch": { backgroundColor: C.searchMatch, outline: "none" },
  ".cm-searchMatch.cm-searchMatch-selected": { backgroundColor: C.searchMatchSel },
  ".cm-gutters": {
    backgroundColor: C.gutterBg,
    color: C.gutterFg,
    borderRight: `1px solid ${C.border}`,
  },
  ".cm-activeLineGutter": { backgroundColor: C.activeLine, color: C.fg },
  ".cm-current-rule-gutter": { backgroundColor: C.currentRule, color: C.fg },
  ".cm-lineNumbers .cm-gutterElement": { padding: "0 6px 0 8px" },
  ".cm-hits-gutter .cm-gutterElement": { padding: "0 4px", textAlign: "right" },
  ".cm-hit, .cm-hits-spacer": { whiteSpace: "nowrap", fontWeight: "bold" },
  ".cm-hit-matched": { color: C.hitMatched },
  ".cm-hit-missed": { color: C.hitMissed },
  ".cm-tooltip": {
    backgroundColor: C.tooltipBg,
    color: C.fg,
    border: `1px solid ${C.border}`,
    borderRadius: "4px",
  },
  ".cm-diagnostic": { fontFamily: C.font, fontSize: "12px" },
  ".cm-diagnostic-error": { borderLeftColor: C.error },
  ".cm-diagnostic-warning": { borderLeftColor: C.warning },
  ".cm-panels": { backgroundColor: C.gutterBg, color: C.fg },
  ".cm-panels.cm-panels-top": { borderBottom: `1px solid ${C.border}` },
  ".cm-panels.cm-panels-bottom": { borderTop: `1px solid ${C.border}` },
  ".cm-textfield": {
    backgroundColor: C.bg,
    color: C.fg,
    border: `1px solid ${C.border}`,
  },
  ".cm-button": {
    backgroundImage: "none",
    backgroundColor: C.bg,
    color: C.fg,
    border: `1px solid ${C.border}`,
  },
  ...tokenThemeRules(),
});

// ---------------------------------------------------------------------------
// Custom state: hits gutter and the current-rule line.
// ---------------------------------------------------------------------------

class HitMarker extends GutterMarker {
  constructor(text, kind, title) {
    super();
    this.text = text;
    this.kind = kind;
    this.title = title;
  }
  eq(other) {
    return other.text === this.text && other.kind === this.kind && other.title === this.title;
  }
  toDOM() {
    const span = document.createElement("span");
    span.className = "cm-hit cm-hit-" + this.kind;
    span.textContent = this.text;
    if (this.title) span.title = this.title;
    return span;
  }
}

// Sizes the hits gutter to its widest text (markers are only drawn for the
// visible lines; without it the gutter would change width while scrolling).
// It is hidden and has no cm-hit class, so counting .cm-hit counts markers.
class HitSpacer extends GutterMarker {
  constructor(text) {
    super();
    this.text = text;
  }
  eq(other) {
    return other.text === this.text;
  }
  toDOM() {
    const span = document.createElement("span");
    span.className = "cm-hits-spacer";
    span.textContent = this.text;
    return span;
  }
}

// The hits gutter's state: markers by line start, and the widest text.
const setHitsEffect = StateEffect.define();
const noHits = { markers: RangeSet.empty, widest: "" };
const hitsField = StateField.define({
  create: () => noHits,
  update(value, tr) {
    if (tr.docChanged) value = { markers: value.markers.map(tr.changes), widest: value.widest };
    for (const e of tr.effects) if (e.is(setHitsEffect)) value = e.value;
    return value;
  },
});

const currentRuleMark = Decoration.line({ class: "cm-current-rule" });
const currentRuleGutterMarker = new (class extends GutterMarker {
  constructor() {
    super();
    this.elementClass = "cm-current-rule-gutter";
  }
})();
const setCurrentRuleEffect = StateEffect.define();
const currentRuleField = StateField.define({
  create: () => Decoration.none,
  update(value, tr) {
    value = value.map(tr.changes);
    for (const e of tr.effects)
      if (e.is(setCurrentRuleEffect))
        value = e.value === null ? Decoration.none : Decoration.set([currentRuleMark.range(e.value)]);
    return value;
  },
  provide: (f) => [
    EditorView.decorations.from(f),
    gutterLineClass.from(f, (deco) => {
      const starts = [];
      deco.between(0, 1e12, (from) => {
        starts.push(currentRuleGutterMarker.range(from));
      });
      return RangeSet.of(starts);
    }),
  ],
});

// Marks the adapter's own transactions (setDoc and the annotation pushes):
// they never reach onChange.
const programmatic = Annotation.define();

// ---------------------------------------------------------------------------
// Line/column helpers (1-based lines, 1-based columns in scalar values).
// ---------------------------------------------------------------------------

function toInt(v, dflt) {
  const n = typeof v === "number" ? v : parseInt(v, 10);
  return Number.isFinite(n) ? Math.trunc(n) : dflt;
}

function clampLine(doc, line) {
  if (line < 1) return doc.line(1);
  return doc.line(line > doc.lines ? doc.lines : line);
}

// Offset into `text` of the 1-based scalar-value column `col`, clamped to the
// line's end; never splits a surrogate pair.
function columnOffset(text, col) {
  let n = col - 1,
    i = 0;
  const len = text.length;
  while (n > 0 && i < len) {
    const c = text.charCodeAt(i);
    i += c >= 0xd800 && c < 0xdc00 && i + 1 < len ? 2 : 1;
    n--;
  }
  return i;
}

function position(doc, line, col) {
  const l = clampLine(doc, toInt(line, 1));
  return l.from + columnOffset(l.text, toInt(col, 1));
}

function charLengthAt(doc, pos) {
  const c = doc.sliceString(pos, Math.min(pos + 2, doc.length));
  const code = c.charCodeAt(0);
  return c.length === 2 && code >= 0xd800 && code < 0xdc00 ? 2 : 1;
}

const SEVERITIES = new Set(["error", "warning", "info", "hint"]);

function toDiagnostics(doc, list) {
  const out = [];
  for (const d of list) {
    if (!d || typeof d !== "object") continue;
    const from = position(doc, d.line, d.col);
    const endLine = d.endLine == null ? d.line : d.endLine;
    const endCol = d.endCol == null ? toInt(d.col, 1) + 1 : d.endCol;
    let to = position(doc, endLine, endCol);
    if (to <= from) {
      // Empty or inverted range: one character, or a point at the line end.
      const lineEnd = doc.lineAt(from).to;
      to = from < lineEnd ? from + charLengthAt(doc, from) : from;
    }
    out.push({
      from,
      to,
      severity: SEVERITIES.has(d.severity) ? d.severity : "error",
      message: d.message == null ? "" : String(d.message),
    });
  }
  return out;
}

// Diagnostics without @codemirror/lint (which would pull in the language
// package): squiggles as marks titled with the message (the hover tooltip),
// and a gutter marker per line with the worst severity, titled with all.
const setDiagnosticsEffect = StateEffect.define();

class DiagMarker extends GutterMarker {
  constructor(severity, title) {
    super();
    this.severity = severity;
    this.title = title;
  }
  eq(o) {
    return o.severity === this.severity && o.title === this.title;
  }
  toDOM() {
    const el = document.createElement("div");
    el.className = `cm-lint-marker cm-lint-marker-${this.severity}`;
    el.title = this.title;
    el.textContent = this.severity === "error" ? "●" : "▲";
    return el;
  }
}

function diagnosticSets(doc, list) {
  const marks = [];
  const byLine = new Map();
  for (const d of list) {
    const mark = Decoration.mark({
      class: `cm-lintRange cm-lintRange-${d.severity}`,
      attributes: { title: d.message },
    });
    if (d.to > d.from) marks.push(mark.range(d.from, d.to));
    const at = doc.lineAt(d.from).from;
    const prev = byLine.get(at);
    const severity = prev && prev.severity === "error" ? "error" : d.severity;
    byLine.set(at, { severity, title: prev ? `${prev.title}\n${d.message}` : d.message });
  }
  const markers = [...byLine.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([at, m]) => new DiagMarker(m.severity, m.title).range(at));
  return { marks: Decoration.set(marks, true), markers: RangeSet.of(markers) };
}

const diagnosticsField = StateField.define({
  create: () => ({ marks: Decoration.none, markers: RangeSet.empty }),
  update(value, tr) {
    for (const e of tr.effects) if (e.is(setDiagnosticsEffect)) return diagnosticSets(tr.state.doc, e.value);
    if (!tr.docChanged) return value;
    return { marks: value.marks.map(tr.changes), markers: value.markers.map(tr.changes) };
  },
  provide: (f) => EditorView.decorations.from(f, (v) => v.marks),
});

function hitTitle(text, kind) {
  let i = 0;
  while (i < text.length && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
  const what = kind === "matched" ? "matched" : kind === "missed" ? "not matched" : kind;
  if (i === 0) return what ? `${text}, ${what}` : text;
  return `evaluated ${text.slice(0, i)}×` + (what ? `, ${what}` : "");
}

function toHits(doc, list) {
  const byLine = new Map();
  for (const h of list) {
    if (!h || typeof h !== "object") continue;
    const line = clampLine(doc, toInt(h.line, 1));
    const text = h.text == null ? "" : String(h.text);
    const kind = String(h.kind || "matched").replace(/[^A-Za-z0-9_-]/g, "");
    const title = h.title == null ? hitTitle(text, kind) : String(h.title);
    byLine.set(line.from, new HitMarker(text, kind, title));
  }
  const ranges = [];
  let widest = "";
  for (const [from, marker] of byLine) {
    ranges.push(marker.range(from));
    if (marker.text.length > widest.length) widest = marker.text;
  }
  return ranges.length ? { markers: RangeSet.of(ranges, true), widest } : noHits;
}

function parseList(json) {
  if (Array.isArray(json)) return json;
  if (json == null || json === "") return [];
  try {
    const v = JSON.parse(String(json));
    return Array.isArray(v) ? v : [];
  } catch (e) {
    console.warn("editor: ignoring invalid JSON", e);
    return [];
  }
}

// ---------------------------------------------------------------------------
// The editor.
// ---------------------------------------------------------------------------

export function createEditor(parent, doc, onChange, label, debounceMs) {
  const delay = Math.max(0, toInt(debounceMs, 0));
  const emitChange = typeof onChange === "function" ? onChange : () => {};

  let destroyed = false;
  let timer = 0;
  let cachedText = doc == null ? "" : normalize(String(doc)); // null when stale
  let lastKnown = cachedText; // the text the Rust side has (created with, set, or emitted)
  let lastEmitted = null; // the text last passed to onChange, for echo detection
  // Last pushed annotations, by line number, re-applied after setDoc.
  let diagnostics = [];
  let hits = [];
  let currentLine = 0;

  const emit = () => {
    timer = 0;
    if (destroyed) return;
    const text = getDoc();
    if (text === lastKnown) return;
    lastKnown = text;
    lastEmitted = text;
    emitChange(text);
  };

  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: cachedText,
      extensions: [
        lineNumbers(),
        gutter({
          class: "cm-hits-gutter",
          markers: (v) => v.state.field(hitsField).markers,
          initialSpacer: (v) => new HitSpacer(v.state.field(hitsField).widest),
          updateSpacer: (spacer, update) => {
            const widest = update.state.field(hitsField).widest;
            return widest === spacer.text ? spacer : new HitSpacer(widest);
          },
        }),
        gutter({ class: "cm-lint-gutter", markers: (v) => v.state.field(diagnosticsField).markers }),
        diagnosticsField,
        highlightActiveLineGutter(),
        highlightSpecialChars(),
        history(),
        drawSelection(),
        highlightActiveLine(),
        highlightSelectionMatches(),
        search({ top: true }),
        hitsField,
        currentRuleField,
        EditorState.tabSize.of(8),
        iptablesHighlighting,
        editorTheme,
        EditorView.contentAttributes.of({ "aria-label": label == null ? "" : String(label) }),
        keymap.of([...searchKeymap, ...historyKeymap, ...defaultKeymap]),
        EditorView.updateListener.of((update) => {
          if (!update.docChanged) return;
          cachedText = null;
          const user = update.transactions.filter((tr) => tr.docChanged && !tr.annotation(programmatic));
          if (user.length) {
            // A large paste is sent at once; typing waits for a pause.
            let inserted = 0;
            for (const tr of user) tr.changes.iterChanges((a, b, c, d) => (inserted += d - c));
            if (timer) clearTimeout(timer);
            timer = setTimeout(emit, inserted > 100000 ? 0 : delay);
          }
        }),
      ],
    }),
  });

  function getDoc() {
    if (cachedText === null) cachedText = view.state.doc.toString();
    return cachedText;
  }

  // Effects that put the remembered annotations onto `doc`.
  function annotationEffects(doc) {
    return [
      setDiagnosticsEffect.of(toDiagnostics(doc, diagnostics)),
      setHitsEffect.of(toHits(doc, hits)),
      setCurrentRuleEffect.of(currentLine > 0 ? clampLine(doc, currentLine).from : null),
    ];
  }

  // Scroll `pos` into view: centred when its line is not fully visible,
  // otherwise only horizontally as needed.
  function scrollEffect(pos) {
    let visible = false;
    const rect = view.scrollDOM.getBoundingClientRect();
    if (rect.height > 0) {
      const block = view.lineBlockAt(pos);
      const top = view.documentTop + block.top;
      visible = top >= rect.top && top + block.height <= rect.bottom;
    }
    return EditorView.scrollIntoView(pos, { y: visible ? "nearest" : "center", x: "nearest" });
  }

  function setDoc(text) {
    if (destroyed) return;
    text = text == null ? "" : normalize(String(text));
    const current = getDoc();
    // Nothing changed, or the Rust side echoing text this editor emitted while
    // the user has typed on (its own newer text is on its way).
    if (text === current || text === lastEmitted) return;
    if (timer) {
      clearTimeout(timer);
      timer = 0;
    }
    lastKnown = text;
    lastEmitted = null;

    // Replace only the part that differs, so the selection, scroll position
    // and undo history stay meaningful for small programmatic edits.
    let from = commonPrefix(current, text);
    const tail = commonSuffix(current, text, Math.min(current.length, text.length) - from);
    let endOld = current.length - tail,
      endNew = text.length - tail;
    if (from > 0 && isLowSurrogate(current.charCodeAt(from))) from--;
    if (endOld < current.length && isLowSurrogate(current.charCodeAt(endOld))) {
      endOld++;
      endNew++;
    }
    // Most of the old text replaced by mostly new text: a new document, so
    // put the cursor and the scroll position at its start.
    const fresh = (endOld - from) * 2 >= current.length && (endNew - from) * 2 >= text.length;
    const state = view.state;
    const changes = ChangeSet.of([{ from, to: endOld, insert: text.slice(from, endNew) }], state.doc.length);
    const newDoc = changes.apply(state.doc);
    const effects = annotationEffects(newDoc);
    if (fresh) effects.push(EditorView.scrollIntoView(0, { y: "start", x: "start" }));
    view.dispatch({
      changes,
      selection: fresh ? EditorSelection.cursor(0) : undefined,
      effects,
      annotations: [programmatic.of(true), isolateHistory.of("full")],
    });
    cachedText = text;
  }

  function setDiagnostics(json) {
    if (destroyed) return;
    diagnostics = parseList(json);
    view.dispatch({
      effects: setDiagnosticsEffect.of(toDiagnostics(view.state.doc, diagnostics)),
      annotations: programmatic.of(true),
    });
  }

  function setGutterText(json) {
    if (destroyed) return;
    hits = parseList(json);
    view.dispatch({
      effects: setHitsEffect.of(toHits(view.state.doc, hits)),
      annotations: programmatic.of(true),
    });
  }

  // `scroll` false: mark the line without moving the view (a re-trace while
  // the user types elsewhere must not pull the editor away).
  function highlightLine(line, scroll = true) {
    if (destroyed) return;
    const n = toInt(line, 0);
    currentLine = n > 0 ? n : 0;
    if (currentLine === 0) {
      view.dispatch({ effects: setCurrentRuleEffect.of(null), annotations: programmatic.of(true) });
      return;
    }
    const pos = clampLine(view.state.doc, currentLine).from;
    view.dispatch({
      effects: scroll === false ? [setCurrentRuleEffect.of(pos)] : [setCurrentRuleEffect.of(pos), scrollEffect(pos)],
      annotations: programmatic.of(true),
    });
  }

  function selectLine(line) {
    if (destroyed) return;
    const l = clampLine(view.state.doc, toInt(line, 1));
    view.dispatch({
      selection: EditorSelection.single(l.from, l.to),
      effects: scrollEffect(l.from),
      annotations: programmatic.of(true),
    });
    view.focus();
  }

  function focus() {
    if (!destroyed) view.focus();
  }

  function destroy() {
    if (destroyed) return;
    destroyed = true;
    if (timer) clearTimeout(timer);
    timer = 0;
    view.destroy();
  }

  // The whole text, for scripts driving the page (the DOM holds only the
  // lines in view).
  view.dom.playgroundText = getDoc;
  return { setDoc, getDoc, setDiagnostics, highlightLine, setGutterText, selectLine, focus, destroy };
}

// Length of the common prefix of a and b. Compares slices of shrinking size
// (string equality is a memory compare; a charCodeAt loop over a 20 MB
// document takes a quarter of a second).
function commonPrefix(a, b) {
  const n = Math.min(a.length, b.length);
  let i = 0;
  for (let step = 1 << 16; step > 0; step >>= 4) {
    while (i + step <= n && a.slice(i, i + step) === b.slice(i, i + step)) i += step;
  }
  return i;
}

// Length of the common suffix of a and b, at most `max`.
function commonSuffix(a, b, max) {
  let k = 0;
  const ea = a.length,
    eb = b.length;
  for (let step = 1 << 16; step > 0; step >>= 4) {
    while (k + step <= max && a.slice(ea - k - step, ea - k) === b.slice(eb - k - step, eb - k)) k += step;
  }
  return k;
}

function isLowSurrogate(code) {
  return code >= 0xdc00 && code < 0xe000;
}

// CodeMirror splits lines on \r\n, \r and \n and joins them with \n: compare
// and diff against text in that form.
function normalize(text) {
  return text.indexOf("\r") < 0 ? text : text.replace(/\r\n?/g, "\n");
}
