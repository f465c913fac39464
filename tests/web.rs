//! The app's components in a real browser (wasm-bindgen-test, headless Chromium):
//! mount the App, edit the ruleset as an input event would, and read the DOM.
#![cfg(target_arch = "wasm32")]

use iptables_playground::app::App;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement, HtmlTextAreaElement};

wasm_bindgen_test_configure!(run_in_browser);

fn mount() -> (Element, impl Drop) {
    let document = web_sys::window().unwrap().document().unwrap();
    let host = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&host).unwrap();
    let handle = leptos::mount::mount_to(host.clone().unchecked_into::<HtmlElement>(), App);
    (host, handle)
}

fn text_of(host: &Element, selector: &str) -> String {
    host.query_selector(selector)
        .unwrap()
        .unwrap_or_else(|| panic!("no {selector}"))
        .text_content()
        .unwrap_or_default()
}

/// Replace the editor's text the way typing does: set the value, fire a bubbling input event.
fn edit(host: &Element, text: &str) {
    let area: HtmlTextAreaElement = host
        .query_selector("textarea")
        .unwrap()
        .unwrap()
        .unchecked_into();
    area.set_value(text);
    let init = web_sys::EventInit::new();
    init.set_bubbles(true);
    area.dispatch_event(&web_sys::Event::new_with_event_init_dict("input", &init).unwrap())
        .unwrap();
}

#[wasm_bindgen_test]
async fn the_example_loads_clean() {
    let (host, _mounted) = mount();
    leptos::task::tick().await;
    assert_eq!(
        text_of(&host, "[data-testid=summary]"),
        "3 tables, 33 chains, 36 rules · 0 errors, 0 warnings"
    );
    assert!(text_of(&host, ".no-problems").starts_with("No problems"));
    let nat_chains = host
        .query_selector_all("details.table[data-table=nat] details.chain")
        .unwrap();
    assert_eq!(nat_chains.length(), 14);
}

#[wasm_bindgen_test]
async fn editing_shows_and_clears_problems() {
    let (host, _mounted) = mount();
    leptos::task::tick().await;

    edit(
        &host,
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 22 -j SSH\nCOMMIT\n",
    );
    leptos::task::tick().await;
    let row = host
        .query_selector("ul.problems li")
        .unwrap()
        .expect("a problem row");
    assert_eq!(row.get_attribute("data-line").as_deref(), Some("3"));
    assert_eq!(row.get_attribute("data-code").as_deref(), Some("E0301"));
    assert!(
        row.text_content()
            .unwrap()
            .contains("Couldn't load target `SSH'"),
        "{:?}",
        row.text_content()
    );
    assert_eq!(
        text_of(&host, "[data-testid=summary]"),
        "1 table, 3 chains, 1 rule · 1 error, 0 warnings"
    );

    edit(
        &host,
        "*filter\n:INPUT DROP [0:0]\n:SSH - [0:0]\n-A INPUT -p tcp --dport 22 -j SSH\nCOMMIT\n",
    );
    leptos::task::tick().await;
    assert!(host.query_selector("ul.problems").unwrap().is_none());
    let policy = text_of(&host, "details.chain[data-chain=INPUT] .policy");
    assert_eq!(policy, "DROP");
}
