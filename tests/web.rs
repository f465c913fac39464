//! The app's components in a real browser (wasm-bindgen-test, headless
//! Chromium): the packet-flow diagram, narration and trace list driven by a
//! real trace (the engine runs here in the test's own thread), and the
//! CodeMirror editor binding. The whole page with its worker is driven by
//! Playwright (tests/e2e).
#![cfg(target_arch = "wasm32")]

use iptables_playground::app::{FlowDiagram, Narration, Player, TraceList};
use iptables_playground::editor;
use iptables_playground::session::{ParseView, PlayInput, Session};
use iptables_playground::timeline::PacketView;
use iptables_playground::view_model::EXAMPLE;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement};

wasm_bindgen_test_configure!(run_in_browser);

fn host() -> Element {
    let document = web_sys::window().unwrap().document().unwrap();
    let host = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&host).unwrap();
    host
}

fn attr(host: &Element, selector: &str, name: &str) -> Option<String> {
    host.query_selector(selector)
        .unwrap()
        .unwrap_or_else(|| panic!("no {selector}"))
        .get_attribute(name)
}

fn text_of(host: &Element, selector: &str) -> String {
    host.query_selector(selector)
        .unwrap()
        .unwrap_or_else(|| panic!("no {selector}"))
        .text_content()
        .unwrap_or_default()
}

#[wasm_bindgen_test]
async fn the_diagram_follows_the_cursor_through_the_nodeport_walk() {
    let mut session = Session::new();
    let parsed: ParseView = session.parse(EXAMPLE);
    let view = session.trace(&PlayInput::default()).unwrap();
    let packet: PacketView = view.packets[0].clone();
    let n = packet.frames.len();
    let el = host();
    let (cursor_out, _mounted) = {
        let (tx, rx) = std::sync::mpsc::channel();
        let handle =
            leptos::mount::mount_to(el.clone().unchecked_into::<HtmlElement>(), move || {
                let current = Memo::new(move |_| Some(packet.clone()));
                let frames =
                    Memo::new(move |_| current.with(|c| c.as_ref().unwrap().frames.clone()));
                let player = Player::new(frames);
                tx.send(player).unwrap();
                let pv = RwSignal::new(Some(parsed.clone()));
                view! {
                    <FlowDiagram player=player current=current parse_view=pv />
                    <Narration player=player current=current />
                    <TraceList player=player on_pick=|_| {} />
                }
            });
        (rx.recv().unwrap(), handle)
    };
    let player = cursor_out;
    leptos::task::tick().await;

    // At the start: the packet is at "network in", no table visited yet.
    let nat = "[data-hook=PREROUTING][data-table=nat]";
    assert_eq!(attr(&el, nat, "data-state").as_deref(), Some("unvisited"));
    assert_eq!(
        attr(&el, "[role=img]", "aria-label").as_deref(),
        Some("Packet flow diagram")
    );
    assert_eq!(
        el.query_selector_all("ol.trace li").unwrap().length() as usize,
        n
    );
    assert!(text_of(&el, ".narration").starts_with("A packet arrives on eth0"));
    assert_eq!(
        attr(&el, "[data-fate]", "data-fate").as_deref(),
        Some("forwarded")
    );
    // Idle tables are dimmed: the example's mangle table has no rules.
    assert!(
        attr(&el, "[data-hook=PREROUTING][data-table=mangle]", "class")
            .unwrap()
            .contains("dim")
    );

    // At the end: the nat boxes are visited and show their verdicts.
    player.go(n - 1);
    leptos::task::tick().await;
    assert_eq!(attr(&el, nat, "data-state").as_deref(), Some("visited"));
    let v = attr(&el, nat, "data-verdict").unwrap();
    assert!(
        v.starts_with("MARK 0x4000/0x4000 · DNAT 203.0.113.1"),
        "{v}"
    );
    assert_eq!(
        attr(
            &el,
            "[data-hook=FORWARD][data-table=filter]",
            "data-verdict"
        )
        .as_deref(),
        Some("ACCEPT")
    );
    assert_eq!(
        attr(&el, "[data-hook=INPUT][data-table=filter]", "data-state").as_deref(),
        Some("unvisited")
    );
    assert_eq!(
        attr(&el, "[data-node=out]", "data-state").as_deref(),
        Some("current")
    );
    assert_eq!(text_of(&el, ".narration"), "Forwarded out eth1.");
    assert_eq!(
        attr(&el, &format!("ol.trace li:nth-child({n})"), "aria-current").as_deref(),
        Some("step")
    );

    // Stepping back by hook leaves POSTROUTING for the FORWARD hook.
    player
        .granularity
        .set(iptables_playground::timeline::Granularity::Hook);
    player.step(true);
    player.step(true);
    leptos::task::tick().await;
    let state = attr(&el, "[data-hook=POSTROUTING][data-table=nat]", "data-state");
    assert_eq!(
        state.as_deref(),
        Some("unvisited"),
        "stepped back before POSTROUTING"
    );
}

#[wasm_bindgen_test]
async fn the_editor_binding_shows_text_diagnostics_and_hits() {
    let el = host();
    let div: HtmlElement = web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .create_element("div")
        .unwrap()
        .unchecked_into();
    el.append_child(&div).unwrap();
    let changes = std::rc::Rc::new(std::cell::RefCell::new(Vec::<String>::new()));
    let c2 = changes.clone();
    let on_change = Closure::<dyn FnMut(JsValue)>::new(move |t: JsValue| {
        c2.borrow_mut().push(t.as_string().unwrap())
    });
    let h = editor::create_editor(
        &div,
        "*filter\n-A INPUT -p tcp --dprot 22 -j ACCEPT\nCOMMIT\n",
        &on_change,
        "Ruleset",
        10,
    );
    let content = el
        .query_selector("[contenteditable=true]")
        .unwrap()
        .expect("CodeMirror content");
    assert_eq!(
        content.get_attribute("aria-label").as_deref(),
        Some("Ruleset")
    );
    let rows = vec![iptables_playground::view_model::ProblemRow {
        severity: "error".into(),
        code: "E0101".into(),
        line: 2,
        column: 17,
        end_line: 2,
        end_column: 24,
        message: "unknown option \"--dprot\"".into(),
        hint: None,
    }];
    h.set_diagnostics(&editor::diagnostics_json(&rows));
    h.set_gutter_text(&editor::hits_json(&[iptables_playground::timeline::Hit {
        line: 2,
        evaluated: 3,
        matched: 1,
    }]));
    h.highlight_line(2);
    // CodeMirror applies its DOM updates on the next animation frame.
    gloo_timers_sleep(50).await;
    assert!(
        el.query_selector(".cm-lintRange-error").unwrap().is_some(),
        "squiggle"
    );
    assert_eq!(text_of(&el, ".cm-hit"), "3✓");
    assert!(el.query_selector(".cm-current-rule").unwrap().is_some());
    h.set_doc("*nat\nCOMMIT\n");
    assert_eq!(h.get_doc().as_string().as_deref(), Some("*nat\nCOMMIT\n"));
    gloo_timers_sleep(40).await;
    assert!(
        changes.borrow().is_empty(),
        "programmatic text fires no change"
    );
    h.destroy();
}

async fn gloo_timers_sleep(ms: i32) {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(p).await.unwrap();
}
