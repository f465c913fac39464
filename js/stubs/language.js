// What @codemirror/commands imports from @codemirror/language, for an editor
// without a syntax tree (the ruleset editor highlights with its own tokenizer,
// js/editor.js). It behaves as CodeMirror does for plain text: one top node
// spanning the document, no brackets matched by syntax, no language indentation
// (new lines keep the previous line's indentation). Bundled in place of the
// real package (esbuild --alias in package.json): the real one and @lezer/common
// cost ~40 KB of the page's download for features this editor does not use.
import { Facet, countColumn } from "@codemirror/state";

function topNode(state) {
  const node = {
    from: 0,
    to: state.doc.length,
    name: "",
    type: { prop: () => undefined, isTop: true, name: "" },
    parent: null,
    firstChild: null,
    lastChild: null,
    nextSibling: null,
    prevSibling: null,
    childAfter: () => null,
    childBefore: () => null,
    enter: () => null,
  };
  return node;
}

export function syntaxTree(state) {
  return {
    length: state.doc.length,
    resolve: () => topNode(state),
    resolveInner: () => topNode(state),
    resolveStack: () => ({ node: topNode(state), next: null }),
  };
}

export function matchBrackets() {
  return null;
}

export const indentUnit = Facet.define({
  combine: (values) => (values.length ? values[0] : "  "),
});

export function getIndentUnit(state) {
  const unit = state.facet(indentUnit);
  return unit.charCodeAt(0) === 9 ? state.tabSize * unit.length : unit.length;
}

export function indentString(state, cols) {
  let result = "";
  const ts = state.tabSize;
  let ch = state.facet(indentUnit)[0];
  if (ch === "\t") {
    while (cols >= ts) {
      result += "\t";
      cols -= ts;
    }
    ch = " ";
  }
  for (let i = 0; i < cols; i++) result += ch;
  return result;
}

// No language: no opinion on indentation.
export function getIndentation() {
  return null;
}

export class IndentContext {
  constructor(state, options = {}) {
    this.state = state;
    this.options = options;
    this.unit = getIndentUnit(state);
  }
  lineAt(pos) {
    return this.state.doc.lineAt(pos);
  }
  textAfterPos(pos) {
    return this.state.sliceDoc(pos, this.state.doc.lineAt(pos).to);
  }
  column(pos) {
    const line = this.state.doc.lineAt(pos);
    return countColumn(line.text.slice(0, pos - line.from), this.state.tabSize);
  }
  lineIndent(pos) {
    const line = this.state.doc.lineAt(pos);
    const override = this.options.overrideIndentation;
    if (override) {
      const o = override(line.from);
      if (o > -1) return o;
    }
    return countColumn(/^\s*/.exec(line.text)[0], this.state.tabSize);
  }
}
