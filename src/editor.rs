//! The CodeMirror 6 editor, bound from `js/editor.js` (bundled by esbuild in
//! Trunk's pre-build hook). The JS side is a thin adapter; this is its Rust
//! face. Positions are 1-based lines and columns counted in characters.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/dist/editor.js")]
extern "C" {
    pub type EditorHandle;

    #[wasm_bindgen(js_name = createEditor)]
    pub fn create_editor(
        parent: &web_sys::HtmlElement,
        doc: &str,
        on_change: &Closure<dyn FnMut(JsValue)>,
        label: &str,
        debounce_ms: u32,
    ) -> EditorHandle;

    #[wasm_bindgen(method, js_name = setDoc)]
    pub fn set_doc(this: &EditorHandle, doc: &str);

    #[wasm_bindgen(method, js_name = getDoc)]
    pub fn get_doc(this: &EditorHandle) -> JsValue;

    #[wasm_bindgen(method, js_name = setDiagnostics)]
    pub fn set_diagnostics(this: &EditorHandle, json: &str);

    #[wasm_bindgen(method, js_name = highlightLine)]
    pub fn highlight_line(this: &EditorHandle, line: u32);

    /// Mark the line; scroll to it only when `scroll`.
    #[wasm_bindgen(method, js_name = highlightLine)]
    pub fn highlight_line_scroll(this: &EditorHandle, line: u32, scroll: bool);

    #[wasm_bindgen(method, js_name = setGutterText)]
    pub fn set_gutter_text(this: &EditorHandle, json: &str);

    #[wasm_bindgen(method, js_name = selectLine)]
    pub fn select_line(this: &EditorHandle, line: u32);

    #[wasm_bindgen(method)]
    pub fn focus(this: &EditorHandle);

    #[wasm_bindgen(method)]
    pub fn destroy(this: &EditorHandle);
}

/// The diagnostics as the adapter takes them.
pub fn diagnostics_json(rows: &[crate::view_model::ProblemRow]) -> String {
    let v: Vec<serde_json::Value> = rows
        .iter()
        .map(|p| {
            let mut message = p.message.clone();
            if let Some(h) = &p.hint {
                message.push_str("\nhint: ");
                message.push_str(h);
            }
            serde_json::json!({
                "line": p.line, "col": p.column, "endLine": p.end_line, "endCol": p.end_column,
                "severity": p.severity, "message": message,
            })
        })
        .collect();
    serde_json::to_string(&v).unwrap_or_default()
}

/// Per-rule hit counts as gutter text: `1✓` matched, `1✗` evaluated only.
pub fn hits_json(hits: &[crate::timeline::Hit]) -> String {
    let v: Vec<serde_json::Value> = hits
        .iter()
        .map(|h| {
            let matched = h.matched > 0;
            serde_json::json!({
                "line": h.line,
                "text": format!("{}{}", h.evaluated, if matched { "✓" } else { "✗" }),
                "kind": if matched { "matched" } else { "missed" },
            })
        })
        .collect();
    serde_json::to_string(&v).unwrap_or_default()
}

/// Packets each rule matched in "Run N packets" (`333`, `1.2k`, `45k`, `1.0M`),
/// as `iptables -L -v` counts them; rules never matched show `0`.
pub fn counters_json(v: &crate::session::BatchView) -> String {
    let short = |n: u64| match n {
        0..=999 => n.to_string(),
        1000..=99_999 => format!("{:.1}k", n as f64 / 1000.0).replace(".0k", "k"),
        100_000..=999_999 => format!("{}k", n / 1000),
        _ => format!("{:.1}M", n as f64 / 1e6),
    };
    let mut out: Vec<serde_json::Value> = v
        .counters
        .iter()
        .map(|&(line, n)| serde_json::json!({"line": line, "text": short(n), "kind": "matched"}))
        .collect();
    out.extend(
        v.never_hit_lines
            .iter()
            .map(|&line| serde_json::json!({"line": line, "text": "0", "kind": "missed"})),
    );
    serde_json::to_string(&out).unwrap_or_default()
}
