//! The browser's services the page uses beside the worker: the URL fragment
//! (where shared links live), the clipboard, a file to download, a file the
//! user opened or dropped, and localStorage for drafts. Thin wrappers that
//! never panic: a browser that refuses (no clipboard permission, storage
//! full or off) is answered with an error or nothing, never a broken page.
//! Not here: what goes in a link or a draft ([`crate::share`]).

use crate::session::PlayInput;
use crate::share::{Shared, ViewState};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// The URL's fragment, without its `#` (empty when none).
pub fn fragment() -> String {
    web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .map(|h| h.trim_start_matches('#').to_string())
        .unwrap_or_default()
}

/// Whether the page was opened with `?embed`.
pub fn embedded() -> bool {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .is_some_and(|q| {
            q.trim_start_matches('?')
                .split('&')
                .any(|p| p == "embed" || p.starts_with("embed="))
        })
}

/// Put `link` in the URL's fragment without reloading or adding a history
/// entry; the whole URL.
pub fn set_fragment(link: &str) -> String {
    let Some(w) = web_sys::window() else {
        return String::new();
    };
    let loc = w.location();
    let base = format!(
        "{}{}{}",
        loc.origin().unwrap_or_default(),
        loc.pathname().unwrap_or_default(),
        loc.search().unwrap_or_default()
    );
    let url = format!("{base}#{link}");
    if let Ok(h) = w.history() {
        let _ = h.replace_state_with_url(&JsValue::NULL, "", Some(&url));
    }
    url
}

/// Copy `text` to the clipboard, if the browser lets the page.
pub fn copy(text: &str) {
    if let Some(w) = web_sys::window() {
        let _ = w.navigator().clipboard().write_text(text);
    }
}

/// Offer `text` as a file named `name`.
pub fn download(name: &str, text: &str, mime: &str) -> Result<(), JsValue> {
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| JsValue::from_str("no document"))?;
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let bag = web_sys::BlobPropertyBag::new();
    bag.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &bag)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let a: web_sys::HtmlAnchorElement = doc.create_element("a")?.unchecked_into();
    a.set_href(&url);
    a.set_download(name);
    a.click();
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(())
}

/// The text of a file the user chose or dropped.
pub async fn read_text(file: web_sys::File) -> Result<String, String> {
    let text = wasm_bindgen_futures::JsFuture::from(file.text())
        .await
        .map_err(|_| format!("{} could not be read", file.name()))?;
    text.as_string()
        .ok_or_else(|| format!("{} is not text", file.name()))
}

/// Drafts: what the user typed, kept in localStorage so a reload or a closed
/// tab loses nothing. The ruleset goes from the editor's JS string to storage
/// without passing through wasm memory; the packets, host and view beside it
/// as a small JSON. Opening a link, an example or a scenario file does not
/// touch the draft until the user changes what was opened: then the draft is
/// first copied aside, so "Restore my draft" can bring it back.
pub mod draft {
    use super::*;

    const RULESET: &str = "iptables-playground:ruleset";
    const SCENARIO: &str = "iptables-playground:scenario";
    const BACKUP_RULESET: &str = "iptables-playground:backup:ruleset";
    const BACKUP_SCENARIO: &str = "iptables-playground:backup:scenario";

    #[derive(Serialize, Deserialize)]
    struct Rest {
        input: PlayInput,
        #[serde(default)]
        view: ViewState,
    }

    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok()?
    }

    fn get(key: &str) -> Option<String> {
        storage()?.get_item(key).ok()?
    }

    fn load_from(ruleset_key: &str, scenario_key: &str) -> Option<Shared> {
        let ruleset = get(ruleset_key).filter(|t| !t.is_empty());
        let rest = get(scenario_key).and_then(|j| serde_json::from_str::<Rest>(&j).ok());
        if ruleset.is_none() && rest.is_none() {
            return None;
        }
        let rest = rest.unwrap_or(Rest {
            input: PlayInput::default(),
            view: ViewState::default(),
        });
        Some(Shared {
            ruleset: ruleset.unwrap_or_else(|| crate::view_model::EXAMPLE.to_string()),
            input: rest.input,
            view: rest.view,
        })
    }

    /// The draft, when it differs from the example's default scenario.
    pub fn load() -> Option<Shared> {
        load_from(RULESET, SCENARIO)
            .filter(|s| s.ruleset != crate::view_model::EXAMPLE || s.input != PlayInput::default())
    }

    /// The draft copied aside when the user changed an opened link.
    pub fn load_backup() -> Option<Shared> {
        load_from(BACKUP_RULESET, BACKUP_SCENARIO)
    }

    pub fn has_backup() -> bool {
        get(BACKUP_RULESET).is_some() || get(BACKUP_SCENARIO).is_some()
    }

    /// Copy the draft aside (before what was opened replaces it).
    pub fn back_up() {
        let Some(s) = storage() else { return };
        for (from, to) in [(RULESET, BACKUP_RULESET), (SCENARIO, BACKUP_SCENARIO)] {
            match s.get_item(from).ok().flatten() {
                Some(v) => {
                    let _ = s.set_item(to, &v);
                }
                None => {
                    let _ = s.remove_item(to);
                }
            }
        }
    }

    pub fn drop_backup() {
        if let Some(s) = storage() {
            let _ = s.remove_item(BACKUP_RULESET);
            let _ = s.remove_item(BACKUP_SCENARIO);
        }
    }

    /// Keep the ruleset `text` (a JS string); say why not when the browser refuses it.
    pub fn save_ruleset(text: &JsValue) -> Result<(), String> {
        let Some(s) = storage() else { return Ok(()) };
        let set: js_sys::Function = js_sys::Reflect::get(&s, &JsValue::from_str("setItem"))
            .ok()
            .and_then(|f| f.dyn_into().ok())
            .ok_or_else(String::new)?;
        match set.call2(&s, &JsValue::from_str(RULESET), text) {
            Ok(_) => Ok(()),
            Err(_) => {
                let _ = s.remove_item(RULESET);
                let m = js_sys::JsString::from(text.clone()).length() as f64 / 1e6;
                Err(format!(
                    "This ruleset ({m:.1} million characters) is larger than this browser keeps: it stays in the editor, but a reload will not bring it back."
                ))
            }
        }
    }

    /// Keep the packets, host and view.
    pub fn save_rest(input: &PlayInput, view: &ViewState) {
        let Some(s) = storage() else { return };
        let rest = Rest {
            input: input.clone(),
            view: view.clone(),
        };
        if let Ok(json) = serde_json::to_string(&rest) {
            let _ = s.set_item(SCENARIO, &json);
        }
    }

    /// Forget the draft (back to the example).
    pub fn clear() {
        if let Some(s) = storage() {
            let _ = s.remove_item(RULESET);
            let _ = s.remove_item(SCENARIO);
        }
    }
}
