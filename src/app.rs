//! The Leptos components. Thin by design: the engine runs in a Web Worker
//! ([`crate::worker`]), whose answers ([`crate::session`]) are shown as they
//! come; the player only moves a cursor over the frames the worker built
//! ([`crate::timeline`]) and draws the diagram from [`crate::diagram`]. No
//! iptables logic lives here.

use crate::browser;
use crate::diagram::{self, along, short_verdict, Diagram, NodeKind};
use crate::editor::{self, EditorHandle};
use crate::packet_form::{has_ports, Field, PacketForm, PROTOCOLS};
use crate::presets;
use crate::session::{
    OutcomeView, PacketInput, ParseView, PlayInput, PlayView, Response, TraceProblems,
};
use crate::share::{self, Shared, ViewState};
use crate::timeline::{
    box_states, box_visit, step_index, FieldRow, Frame, Granularity, PacketView,
};
use crate::view_model::{self, RuleNode};
use crate::worker::Client;
use leptos::ev;
use leptos::html::Div;
use leptos::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// How long the token takes from one box to the next, at 1×.
const TRAVEL_MS: f64 = 520.0;

pub fn mount() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

/// How long the player stays on a frame, at 1×.
fn dwell_ms(f: &Frame) -> f64 {
    match f.kind.as_str() {
        "rule" if !f.matched => 380.0,
        "rule" | "return" => 520.0,
        "rules" => 800.0,
        "fate" | "answer-fate" => 900.0,
        _ => 650.0,
    }
}

/// The mounted CodeMirror editor and the change callback it holds.
type MountedEditor = (EditorHandle, Closure<dyn FnMut(JsValue)>);

fn ease(t: f64) -> f64 {
    let t = t.clamp(0.0, 1.0);
    if t < 0.5 {
        2.0 * t * t
    } else {
        1.0 - (-2.0 * t + 2.0).powi(2) / 2.0
    }
}

/// The player's state, shared by its components.
#[derive(Clone, Copy)]
pub struct Player {
    pub frames: Memo<Vec<Frame>>,
    pub cursor: RwSignal<usize>,
    /// 0..1: how far the token has come from the previous frame's box.
    pub travel: RwSignal<f64>,
    pub playing: RwSignal<bool>,
    pub speed: RwSignal<f64>,
    pub granularity: RwSignal<Granularity>,
}

impl Player {
    pub fn new(frames: Memo<Vec<Frame>>) -> Player {
        Player {
            frames,
            cursor: RwSignal::new(0),
            travel: RwSignal::new(1.0),
            playing: RwSignal::new(false),
            speed: RwSignal::new(1.0),
            granularity: RwSignal::new(Granularity::Rule),
        }
    }

    pub fn go(self, to: usize) {
        let moved = self.frames.with_untracked(|f| {
            let from = self.cursor.get_untracked().min(f.len().saturating_sub(1));
            f.get(to)
                .map(|t| f.get(from).is_some_and(|x| x.node != t.node))
        });
        if let Some(moved) = moved {
            self.cursor.set(to);
            self.travel.set(if moved { 0.0 } else { 1.0 });
        }
    }
    pub fn step(self, back: bool) {
        self.playing.set(false);
        let to = self.frames.with_untracked(|f| {
            step_index(
                f,
                self.cursor.get_untracked(),
                self.granularity.get_untracked(),
                back,
            )
        });
        self.go(to);
    }
    /// Stop playing and show frame `to`.
    pub fn seek(self, to: usize) {
        self.playing.set(false);
        self.go(to);
    }
    pub fn at_end(self) -> bool {
        self.frames
            .with(|f| !f.is_empty() && self.cursor.get() + 1 >= f.len())
    }
    /// The packet's fields at the cursor.
    pub fn state_rows(self, current: Memo<Option<PacketView>>) -> Vec<FieldRow> {
        let st = self
            .frames
            .with(|f| f.get(self.cursor.get()).map(|f| f.state));
        current
            .with(|c| c.as_ref().and_then(|c| c.states.get(st?).cloned()))
            .unwrap_or_default()
    }
    pub fn restart(self) {
        self.playing.set(false);
        self.cursor.set(0);
        self.travel.set(1.0);
    }
    pub fn toggle(self) {
        if self.playing.get_untracked() {
            self.playing.set(false);
        } else {
            let at_end = self
                .frames
                .with_untracked(|f| self.cursor.get_untracked() + 1 >= f.len());
            if at_end {
                self.cursor.set(0);
                self.travel.set(1.0);
            }
            self.playing.set(true);
        }
    }
}

#[component]
pub fn App() -> impl IntoView {
    let parse_view: RwSignal<Option<ParseView>> = RwSignal::new(None);
    let play: RwSignal<Option<Result<PlayView, TraceProblems>>> = RwSignal::new(None);
    // Where the page starts: a shared link in the URL, else the draft kept
    // in this browser, else the example.
    let start = Start::now();
    let packets = RwSignal::new(start.shared.input.packets.clone());
    let selected = RwSignal::new(start.shared.input.selected);
    // The branch of random choices shown. It stays chosen as packets are
    // added: its choices are a prefix the engine replays.
    let branch: RwSignal<Option<Vec<bool>>> = RwSignal::new(start.shared.input.branch.clone());
    let addrs = RwSignal::new(start.shared.input.addrs.clone());
    let routes = RwSignal::new(start.shared.input.routes.clone());
    let sysctl = RwSignal::new(start.shared.input.sysctl);
    let ipsets = RwSignal::new(start.shared.input.ipsets.clone());
    let backend = RwSignal::new(start.shared.input.backend);
    let listening = RwSignal::new(start.shared.input.listening.clone());
    let seed = RwSignal::new(start.shared.input.seed);
    let chain_rules: RwSignal<HashMap<(String, String), Vec<RuleNode>>> =
        RwSignal::new(HashMap::new());
    let busy = RwSignal::new(true);
    let batch: RwSignal<Option<BatchRun>> = RwSignal::new(None);
    let exported: RwSignal<Option<(String, String)>> = RwSignal::new(None);
    // Classroom: presentation mode (large type, editor hideable), the theme,
    // and `?embed` (diagram, player and narration only, for an iframe).
    let presentation = RwSignal::new(start.shared.view.presentation);
    let theme: RwSignal<Option<String>> = RwSignal::new(start.shared.view.theme.clone());
    let open: RwSignal<Vec<String>> = RwSignal::new(start.shared.view.open.clone());
    // Presentation mode folds the editor away (it can be shown again).
    let editor_hidden = RwSignal::new(start.shared.view.presentation);
    let embed = browser::embedded();
    Effect::new(move |_| {
        let Some(root) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
        else {
            return;
        };
        let list = root.class_list();
        let _ = list.toggle_with_force("presentation", presentation.get());
        let _ = list.toggle_with_force("embed", embed);
        let _ = list.toggle_with_force("editor-hidden", editor_hidden.get() && !embed);
        match theme.get() {
            Some(t) => {
                let _ = root.set_attribute("data-theme", &t);
            }
            None => {
                let _ = root.remove_attribute("data-theme");
            }
        }
    });
    let worker_ms = RwSignal::new((0.0f64, None::<f64>));

    let input = Memo::new(move |_| PlayInput {
        addrs: addrs.get(),
        routes: routes.get(),
        packets: packets.get(),
        selected: selected.get(),
        branch: branch.get(),
        seed: seed.get(),
        sysctl: sysctl.get(),
        ipsets: ipsets.get(),
        backend: backend.get(),
        listening: listening.get(),
    });

    // What is shown when it is not the user's own draft ("a shared link",
    // an example, a file), and the packets it came with: until the user
    // changes something, the draft in storage is left alone.
    let foreign: RwSignal<Option<String>> = RwSignal::new(start.foreign.clone());
    let foreign_input: RwSignal<Option<PlayInput>> =
        RwSignal::new(start.foreign.as_ref().map(|_| start.shared.input.clone()));
    let has_backup = RwSignal::new(browser::draft::has_backup());
    let has_draft = RwSignal::new(browser::draft::load().is_some());
    let draft_notice: RwSignal<Option<String>> = RwSignal::new(start.notice.clone());
    let alert: RwSignal<Option<String>> = RwSignal::new(start.alert.clone());
    // The view step a link or draft asked for, applied once its trace is in.
    let pending_step: RwSignal<Option<usize>> =
        RwSignal::new(Some(start.shared.view.step).filter(|&s| s > 0));
    let share_link: RwSignal<Option<String>> = RwSignal::new(None);
    let example_note: RwSignal<Option<String>> = RwSignal::new(None);
    let initial_text = start.shared.ruleset.clone();
    let initial = StoredValue::new(initial_text.clone());
    let start_by = start.shared.view.by.clone();
    let client = StoredValue::new_local(
        Client::spawn(move |r| match r {
            Response::Work {
                parsed,
                traced,
                parse_ms,
                trace_ms,
                done,
                ..
            } => {
                let reparsed = parsed.is_some();
                if let Some(p) = parsed {
                    chain_rules.set(HashMap::new());
                    parse_view.set(Some(p));
                }
                if let Some(t) = traced {
                    play.set(Some(t));
                }
                worker_ms.update(|(p, t)| {
                    if reparsed {
                        *p = parse_ms;
                        *t = None;
                    }
                    if trace_ms.is_some() {
                        *t = trace_ms;
                    }
                });
                if done {
                    busy.set(false);
                }
            }
            Response::Chain {
                table,
                chain,
                rules,
                ..
            } => chain_rules.update(|m| {
                m.insert((table, chain), rules);
            }),
            Response::Export { format, text, .. } => exported.set(Some((format, text))),
            Response::Batch { id, result, done } => batch.update(|b| {
                // Only the batch asked for last is shown, and nothing more
                // once it is cancelled.
                if let Some(b) = b.as_mut().filter(|b| b.id == id && b.running) {
                    b.result = Some(result);
                    b.running = !done;
                }
            }),
            Response::Ready => {}
        })
        .ok(),
    );
    client.with_value(|c| {
        if let Some(c) = c {
            c.work(Some(JsValue::from_str(&initial_text)), None)
        }
    });
    // Every change of the packets, host or branch re-traces (and makes the
    // counts of a batch stale).
    Effect::new(move |_| {
        let i = input.get();
        stop_batch(batch, client);
        client.with_value(|c| {
            if let Some(c) = c {
                c.work(None, Some(i))
            }
        });
    });
    let view_ok =
        Memo::new(move |_| play.with(|p| p.as_ref().and_then(|r| r.as_ref().ok().cloned())));
    let current = Memo::new(move |_| {
        let s = selected.get();
        view_ok.with(|v| v.as_ref().and_then(|v| v.packets.get(s).cloned()))
    });
    let frames = Memo::new(move |_| {
        current.with(|c| c.as_ref().map(|c| c.frames.clone()).unwrap_or_default())
    });
    let player = Player::new(frames);
    // A new trace keeps the cursor where it can.
    Effect::new(move |_| {
        let n = frames.with(|f| f.len());
        let c = player.cursor.get_untracked();
        if n > 0 && c >= n {
            player.cursor.set(n - 1);
        }
    });
    player.granularity.set(granularity_of(&start_by));
    // A link's or draft's step, once the trace it belongs to is in.
    Effect::new(move |_| {
        let n = frames.with(|f| f.len());
        if busy.get() || n == 0 {
            return;
        }
        if let Some(step) = pending_step.get_untracked() {
            pending_step.set(None);
            player.seek(step.min(n - 1));
        }
    });
    animate(player);
    keyboard(player);

    // The editor.
    let editor_el = NodeRef::<Div>::new();
    let editor: StoredValue<Option<MountedEditor>, LocalStorage> = StoredValue::new_local(None);
    Effect::new(move |_| {
        let Some(el) = editor_el.get() else { return };
        if editor.with_value(|e| e.is_some()) {
            return;
        }
        let on_change = Closure::<dyn FnMut(JsValue)>::new(move |text: JsValue| {
            busy.set(true);
            stop_batch(batch, client);
            // The user changed what was opened: it becomes the draft, the
            // draft it replaces is kept aside.
            if foreign.get_untracked().is_some() {
                adopt(foreign, has_backup);
                browser::draft::save_rest(&input.get_untracked(), &ViewState::default());
            }
            if let Err(why) = browser::draft::save_ruleset(&text) {
                draft_notice.set(Some(why));
            }
            client.with_value(|c| {
                if let Some(c) = c {
                    c.work(Some(text), Some(input.get_untracked()))
                }
            });
        });
        let el: web_sys::HtmlElement = el.unchecked_into();
        let handle =
            initial.with_value(|t| editor::create_editor(&el, t, &on_change, "Ruleset", 200));
        editor.set_value(Some((handle, on_change)));
    });
    let with_editor = move |f: &dyn Fn(&EditorHandle)| {
        editor.with_value(|e| {
            if let Some((h, _)) = e {
                f(h)
            }
        })
    };
    Effect::new(move |_| {
        let json = parse_view.with(|p| p.as_ref().map(|p| editor::diagnostics_json(&p.problems)));
        if let Some(json) = json {
            with_editor(&|h| h.set_diagnostics(&json));
        }
    });
    // The gutter counts the trace's rule evaluations, or, after "Run N
    // packets", each rule's packets as `iptables -L -v` would.
    Effect::new(move |_| {
        let counted = batch.with(|b| {
            b.as_ref()
                .and_then(|b| b.result.as_ref()?.as_ref().ok().map(editor::counters_json))
        });
        let json = counted.unwrap_or_else(|| {
            current
                .with(|c| editor::hits_json(c.as_ref().map(|c| c.hits.as_slice()).unwrap_or(&[])))
        });
        with_editor(&|h| h.set_gutter_text(&json));
    });
    // The rule at the cursor is marked in the editor; the editor scrolls to it
    // when the cursor moves, not when an edit re-traces.
    Effect::new(move |prev: Option<usize>| {
        let c = player.cursor.get();
        let line = frames.with(|f| f.get(c).and_then(|f| f.line)).unwrap_or(0);
        let moved = prev != Some(c);
        with_editor(&|h| h.highlight_line_scroll(line as u32, moved));
        c
    });
    let pick = move |line: usize| with_editor(&|h| h.select_line(line as u32));
    let editor_text = move || -> String {
        let t = std::cell::RefCell::new(None);
        with_editor(&|h| *t.borrow_mut() = h.get_doc().as_string());
        t.into_inner().unwrap_or_else(|| initial.get_value())
    };
    let view_state = move || ViewState {
        step: player.cursor.get_untracked(),
        by: granularity_name(player.granularity.get_untracked()).into(),
        presentation: presentation.get_untracked(),
        theme: theme.get_untracked(),
        open: open.get_untracked(),
    };

    // Keep the packets, host and view as they change (the ruleset is kept
    // by the editor's change handler).
    Effect::new(move |_| {
        let i = input.get();
        let v = ViewState {
            step: 0,
            by: granularity_name(player.granularity.get()).into(),
            presentation: presentation.get(),
            theme: theme.get(),
            open: open.get(),
        };
        if foreign.get_untracked().is_some() {
            if foreign_input.with_untracked(|f| f.as_ref() == Some(&i)) {
                return;
            }
            adopt(foreign, has_backup);
            let text = editor_text();
            if let Err(why) = browser::draft::save_ruleset(&JsValue::from_str(&text)) {
                draft_notice.set(Some(why));
            }
        }
        browser::draft::save_rest(&i, &v);
        has_draft.set(true);
    });

    // Show a whole scenario: from a link, an example, a file or the draft.
    let load = move |sh: Shared, what: Option<String>| {
        stop_batch(batch, client);
        packets.set(sh.input.packets.clone());
        selected.set(sh.input.selected);
        branch.set(sh.input.branch.clone());
        addrs.set(sh.input.addrs.clone());
        routes.set(sh.input.routes.clone());
        sysctl.set(sh.input.sysctl);
        ipsets.set(sh.input.ipsets.clone());
        backend.set(sh.input.backend);
        listening.set(sh.input.listening.clone());
        seed.set(sh.input.seed);
        presentation.set(sh.view.presentation);
        editor_hidden.set(sh.view.presentation);
        theme.set(sh.view.theme.clone());
        open.set(sh.view.open.clone());
        player.granularity.set(granularity_of(&sh.view.by));
        player.restart();
        pending_step.set(Some(sh.view.step).filter(|&s| s > 0));
        foreign_input.set(what.as_ref().map(|_| sh.input.clone()));
        foreign.set(what);
        share_link.set(None);
        with_editor(&|h| h.set_doc(&sh.ruleset));
        busy.set(true);
        client.with_value(|c| {
            if let Some(c) = c {
                c.work(Some(JsValue::from_str(&sh.ruleset)), Some(sh.input.clone()))
            }
        });
    };
    let open_link = move |fragment: String| match share::from_link(&fragment) {
        Ok((sh, notes)) => {
            alert.set(None);
            draft_notice.set((!notes.is_empty()).then(|| notes.join(" ")));
            example_note.set(None);
            load(sh, Some("a shared link".into()));
        }
        Err(e) => alert.set(Some(format!(
            "This link could not be opened: {e} What you had stays."
        ))),
    };
    // A link pasted into this tab's address bar.
    let hashchange = window_event_listener(ev::hashchange, move |_| {
        let f = browser::fragment();
        if !f.is_empty() {
            open_link(f);
        }
    });
    std::mem::forget(hashchange);
    let open_scenario_text =
        move |name: String, text: String| match share::from_scenario_json(&text) {
            Ok((ruleset, input, notes)) => {
                alert.set(None);
                draft_notice.set((!notes.is_empty()).then(|| notes.join(" ")));
                example_note.set(None);
                load(
                    Shared {
                        ruleset,
                        input,
                        view: ViewState {
                            presentation: presentation.get_untracked(),
                            theme: theme.get_untracked(),
                            ..ViewState::default()
                        },
                    },
                    Some(name),
                );
            }
            Err(e) => alert.set(Some(format!("{name} could not be opened: {e}"))),
        };
    let open_file = move |file: web_sys::File| {
        let name = file.name();
        wasm_bindgen_futures::spawn_local(async move {
            match browser::read_text(file).await {
                Ok(text) if name.ends_with(".json") || text.trim_start().starts_with('{') => {
                    open_scenario_text(name, text)
                }
                // Any other text is a ruleset (a dump or a script).
                Ok(text) => load(
                    Shared {
                        ruleset: text,
                        input: input.get_untracked(),
                        view: view_state(),
                    },
                    Some(name),
                ),
                Err(e) => alert.set(Some(e)),
            }
        });
    };
    // Drop a scenario or a dump anywhere on the page.
    let dragover = window_event_listener(ev::dragover, move |e: web_sys::DragEvent| {
        e.prevent_default()
    });
    std::mem::forget(dragover);
    let drop = window_event_listener(ev::drop, move |e: web_sys::DragEvent| {
        let file = e
            .data_transfer()
            .and_then(|d| d.files())
            .and_then(|f| f.get(0));
        if let Some(file) = file {
            e.prevent_default();
            open_file(file);
        }
    });
    std::mem::forget(drop);
    let restore_draft = move |_| {
        // Before any change the draft is where it was; after one, aside.
        let sh = if foreign.get_untracked().is_some() {
            browser::draft::load()
        } else {
            browser::draft::load_backup()
        };
        if let Some(sh) = sh {
            let backup = foreign.get_untracked().is_none();
            load(sh.clone(), None);
            if backup {
                browser::draft::drop_backup();
                has_backup.set(false);
                let _ = browser::draft::save_ruleset(&JsValue::from_str(&sh.ruleset));
            }
            alert.set(None);
            example_note.set(None);
            draft_notice.set(Some("Your draft is back.".into()));
        }
    };
    let share = move |_| {
        let sh = Shared {
            ruleset: editor_text(),
            input: input.get_untracked(),
            view: view_state(),
        };
        let link = share::to_link(&sh);
        if link.len() > nfsim::scenario::link::MAX_LINK_CHARS {
            share_link.set(None);
            alert.set(Some(format!(
                "This scenario is too large for a link ({} characters; browsers stop at {}): use Download scenario instead.",
                link.len(),
                nfsim::scenario::link::MAX_LINK_CHARS
            )));
            return;
        }
        let url = browser::set_fragment(&link);
        browser::copy(&url);
        share_link.set(Some(url));
    };
    let download = move |_| match share::scenario_json(&editor_text(), &input.get_untracked()) {
        Ok(json) => {
            if let Err(e) = browser::download("scenario.json", &json, "application/json") {
                alert.set(Some(format!("The download failed: {e:?}")));
            }
        }
        Err(e) => alert.set(Some(format!("The scenario cannot be written: {e}"))),
    };
    let file_input = NodeRef::<leptos::html::Input>::new();
    let choose_file = move |_| {
        if let Some(i) = file_input.get() {
            i.set_value("");
            i.click();
        }
    };
    let load_example = move |id: &'static str| {
        let Some(p) = presets::preset(id) else { return };
        match share::from_scenario_json(p.scenario) {
            Ok((ruleset, input, _)) => {
                alert.set(None);
                draft_notice.set(None);
                example_note.set(Some(format!("{}: {}", p.title, p.explanation)));
                load(
                    Shared {
                        ruleset,
                        input,
                        view: ViewState {
                            presentation: presentation.get_untracked(),
                            theme: theme.get_untracked(),
                            ..ViewState::default()
                        },
                    },
                    Some(format!("the example “{}”", p.title)),
                );
            }
            Err(e) => alert.set(Some(format!("The example {id} could not be loaded: {e}"))),
        }
    };
    let show_restore = move || (foreign.get().is_some() && has_draft.get()) || has_backup.get();

    let summary =
        move || parse_view.with(|p| p.as_ref().map_or("reading…".into(), |p| p.summary.clone()));
    let counts = move || parse_view.with(|p| p.as_ref().map(|p| p.counts.clone()));

    view! {
        <header class="topbar">
            <h1>"iptables playground"</h1>
            <span class="summary" role="status" aria-label="Ruleset summary" data-testid="summary">{summary}</span>
            <span class="counts">{counts}</span>
            <span class="busy" class:on=move || busy.get() aria-hidden="true">"working…"</span>
            <div class="tools">
                <button on:click=share title="Put the whole scenario and this view in the page's address (#…) and copy it">"Share"</button>
                <button on:click=download aria-label="Download scenario" title="Download scenario: the scenario as a JSON file (the CLI's format: nfsim trace scenario.json)">"Download"</button>
                <button on:click=choose_file aria-label="Open scenario" title="Open scenario: a scenario JSON file or a ruleset (or drop one on the page)">"Open"</button>
                <input type="file" accept=".json,application/json,.rules,.v4,.txt,.sh,text/plain" class="sr" tabindex="-1" aria-hidden="true" node_ref=file_input
                    on:change=move |ev| {
                        let el: web_sys::HtmlInputElement = event_target(&ev);
                        if let Some(f) = el.files().and_then(|f| f.get(0)) { open_file(f) }
                    } />
                <button aria-pressed=move || editor_hidden.get().to_string() on:click=move |_| editor_hidden.update(|h| *h = !*h)
                    title="Give the diagram the whole width">{move || if editor_hidden.get() { "Show editor" } else { "Hide editor" }}</button>
                <button aria-pressed=move || presentation.get().to_string() on:click=move |_| { let on = !presentation.get_untracked(); presentation.set(on); editor_hidden.set(on); }
                    aria-label="Presentation mode" title="Presentation mode: large type for a projector; play with space, ←/→, Home, End">"Presentation"</button>
                <select aria-label="Theme" on:change=move |ev| theme.set(match event_target_value(&ev).as_str() { "light" => Some("light".into()), "dark" => Some("dark".into()), _ => None })>
                    {move || [("system", "system theme"), ("light", "light"), ("dark", "dark")].into_iter().map(|(v, l)| {
                        let sel = theme.get().as_deref().unwrap_or("system") == v;
                        view! { <option value=v selected=sel>{l}</option> }
                    }).collect_view()}
                </select>
            </div>
            <span class="timing" title="time the engine worker took for the last parse / trace">
                {move || {
                    let (p, t) = worker_ms.get();
                    match t {
                        Some(t) => format!("parse {p:.0} ms · trace {t:.0} ms"),
                        None => format!("parse {p:.0} ms"),
                    }
                }}
            </span>
        </header>
        {move || share_link.get().map(|url| {
            let len = url.chars().count();
            let long = len > nfsim::scenario::link::LONG_LINK;
            view! {
                <div class="share-bar" role="region" aria-label="Share">
                    <label for="share-link">"Share link"</label>
                    <input id="share-link" type="text" readonly aria-label="Share link" prop:value=url.clone()
                        on:focus=move |ev| { let el: web_sys::HtmlInputElement = event_target(&ev); el.select(); } />
                    <span class="share-len" class:long=long>
                        {format!("{len} characters{}", if long { "" } else { ", copied" })}
                    </span>
                    {long.then(|| view! {
                        <span class="share-warn" role="alert">"Chat tools may cut a link this long: " <button on:click=download>"Download scenario"</button> " instead."</span>
                    })}
                    <button on:click=move |_| share_link.set(None) title="Close">"×"</button>
                </div>
            }
        })}
        <nav class="examples" role="region" aria-label="Examples">
            <span class="examples-title">"Examples"</span>
            {presets::PRESETS.iter().map(|p| {
                let id = p.id;
                view! { <button title=p.explanation data-preset=p.id on:click=move |_| load_example(id)>{p.title}</button> }
            }).collect_view()}
        </nav>
        {move || alert.get().map(|a| view! {
            <p class="alert" role="alert">{a} " " <button on:click=move |_| alert.set(None)>"Dismiss"</button></p>
        })}
        {move || example_note.get().map(|n| view! { <p class="example-note" role="status">{n}</p> })}
        <main class="layout">
            <section class="editor-pane" aria-label="Editor">
                <h2 class="pane-title">"Ruleset " <span class="hint">"(iptables-save or iptables commands)"</span></h2>
                {move || (draft_notice.get().is_some() || show_restore() || foreign.get().is_some()).then(|| view! {
                    <p class="draft-notice" role="status">
                        {move || draft_notice.get().or_else(|| foreign.get().map(|f| format!("Showing {f}. Your draft is kept until you change it.")))}
                        " "
                        <Show when=show_restore>
                            <button on:click=restore_draft>"Restore my draft"</button>
                        </Show>
                        " "
                        <button on:click=move |_| { load_example(presets::PRESETS[0].id); }>"Load the example"</button>
                    </p>
                })}
                <div class="editor" node_ref=editor_el></div>
                <Problems parse_view=parse_view on_pick=pick />
                <RulesetTree parse_view=parse_view chain_rules=chain_rules client=client open=open />
                <Export exported=exported client=client open=open />
            </section>
            <section class="play-pane" aria-label="Packet">
                <PacketPane packets=packets selected=selected view=play addrs=addrs routes=routes sysctl=sysctl ipsets=ipsets backend=backend listening=listening open=open player=player />
                {move || { let b = backend.get(); view! { <FlowDiagram player=player current=current parse_view=parse_view backend=b /> } }}
                <PlayerBar player=player />
                <Narration player=player current=current />
                <div class="below">
                    <TraceList player=player on_pick=pick />
                    <div class="side-col">
                        <BoxWalk player=player />
                        <Outcomes view=view_ok branch=branch />
                        <PacketState player=player current=current />
                        <RunPackets batch=batch input=input client=client />
                        <ConntrackTable view=view_ok open=open />
                    </div>
                </div>
            </section>
        </main>
    }
}

/// The rAF loop: moves the token and, while playing, the cursor.
fn animate(p: Player) {
    let last = Rc::new(RefCell::new(None::<f64>));
    let dwell = Rc::new(RefCell::new(0.0f64));
    let handle: Rc<RefCell<Option<gloo_render::AnimationFrame>>> = Rc::new(RefCell::new(None));
    fn schedule(
        p: Player,
        last: Rc<RefCell<Option<f64>>>,
        dwell: Rc<RefCell<f64>>,
        handle: Rc<RefCell<Option<gloo_render::AnimationFrame>>>,
    ) {
        let h2 = handle.clone();
        let frame = gloo_render::request_animation_frame(move |ts| {
            let dt = last.borrow().map(|l| (ts - l).min(100.0)).unwrap_or(0.0);
            *last.borrow_mut() = Some(ts);
            let speed = p.speed.get_untracked();
            let travel = p.travel.get_untracked();
            if travel < 1.0 {
                p.travel.set((travel + dt * speed / TRAVEL_MS).min(1.0));
            } else if p.playing.get_untracked() {
                let mut d = dwell.borrow_mut();
                *d += dt * speed;
                let (len, at) = (
                    p.frames.with_untracked(|f| f.len()),
                    p.cursor.get_untracked(),
                );
                let wait = p
                    .frames
                    .with_untracked(|f| f.get(at).map(dwell_ms).unwrap_or(500.0));
                if *d >= wait {
                    *d = 0.0;
                    if at + 1 < len {
                        p.go(at + 1);
                    } else {
                        p.playing.set(false);
                    }
                }
            } else {
                *dwell.borrow_mut() = 0.0;
            }
            schedule(p, last, dwell, h2);
        });
        *handle.borrow_mut() = Some(frame);
    }
    schedule(p, last, dwell, handle.clone());
    // The loop lives as long as the page: leak the handle's owner on purpose.
    std::mem::forget(handle);
}

fn keyboard(p: Player) {
    let handle = window_event_listener(ev::keydown, move |e: web_sys::KeyboardEvent| {
        if e.ctrl_key() || e.meta_key() || e.alt_key() {
            return;
        }
        let typing = e
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|el| {
                let tag = el.tag_name().to_ascii_lowercase();
                matches!(tag.as_str(), "input" | "textarea" | "select")
                    || el
                        .closest("[contenteditable=true], .cm-editor")
                        .ok()
                        .flatten()
                        .is_some()
            });
        if typing {
            return;
        }
        match e.key().as_str() {
            " " => p.toggle(),
            "ArrowRight" => p.step(false),
            "ArrowLeft" => p.step(true),
            "Home" => p.restart(),
            "End" => p.seek(p.frames.with_untracked(|f| f.len().saturating_sub(1))),
            _ => return,
        }
        e.prevent_default();
    });
    std::mem::forget(handle);
}

#[component]
fn Problems(
    parse_view: RwSignal<Option<ParseView>>,
    on_pick: impl Fn(usize) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let rows = move || {
        parse_view.with(|p| {
            p.as_ref()
                .map(|p| (p.problems.clone(), p.problem_total))
                .unwrap_or_default()
        })
    };
    view! {
        <section class="problems-pane" aria-label="Problems">
            <h2 class="pane-title">"Problems"</h2>
            {move || {
                let (rows, total) = rows();
                if rows.is_empty() {
                    return view! { <p class="no-problems">"No problems: the kernel would load this ruleset."</p> }.into_any();
                }
                let more = total.saturating_sub(rows.len());
                view! {
                    <ul class="problems">
                        {rows.into_iter().map(|p| {
                            let line = p.line;
                            view! {
                                <li class=format!("problem {}", p.severity) data-line=p.line data-code=p.code.clone()>
                                    <button class="pos" title="Show this line in the editor" on:click=move |_| on_pick(line)>
                                        {p.position()}
                                    </button>
                                    <span class="sev">{format!("{}[{}]", p.severity, p.code)}</span>
                                    <span class="msg">{p.message.clone()}</span>
                                    {p.hint.clone().map(|h| view! { <div class="hint">{format!("hint: {h}")}</div> })}
                                </li>
                            }
                        }).collect_view()}
                        {(more > 0).then(|| view! { <li class="more">{format!("… and {more} more")}</li> })}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn RulesetTree(
    parse_view: RwSignal<Option<ParseView>>,
    chain_rules: RwSignal<HashMap<(String, String), Vec<RuleNode>>>,
    client: StoredValue<Option<Client>, LocalStorage>,
    open: RwSignal<Vec<String>>,
) -> impl IntoView {
    let (is_open, toggle) = panel_open(open, "tree");
    let tree = Memo::new(move |_| {
        parse_view.with(|p| p.as_ref().map(|p| p.tree.clone()).unwrap_or_default())
    });
    view! {
        <details class="tree-pane" prop:open=is_open on:toggle=toggle>
            <summary class="pane-title">"Tables and chains"</summary>
            <div class="tree" aria-label="Tables">
                {move || tree.get().into_iter().map(|t| {
                    let more = t.chain_count.saturating_sub(t.chains.len());
                    let table = t.name.clone();
                    // A table's chains are built only once it is opened: a node's
                    // dump has tens of thousands.
                    let open = RwSignal::new(false);
                    view! {
                        <details class="table" data-table=t.name.clone() on:toggle=move |ev| {
                            let el: web_sys::HtmlDetailsElement = event_target(&ev);
                            open.set(el.open());
                        }>
                            <summary>
                                <span class="table-name">{format!("*{}", t.name)}</span>
                                <span class="count">{format!("{} chains", t.chain_count)}</span>
                            </summary>
                            <Show when=move || open.get()>
                            <ul class="chains">
                                {t.chains.clone().into_iter().map(|c| {
                                    let (table, chain) = (table.clone(), c.name.clone());
                                    let key = (table.clone(), chain.clone());
                                    let hidden = c.rule_count.saturating_sub(view_model::RULES_SHOWN);
                                    let policy = c.policy.clone().unwrap_or_else(|| "-".into());
                                    let count = c.rule_count;
                                    view! {
                                        <li>
                                            <details class="chain" data-chain=c.name.clone() on:toggle=move |ev| {
                                                let el: web_sys::HtmlDetailsElement = event_target(&ev);
                                                if el.open() {
                                                    client.with_value(|cl| if let Some(cl) = cl { cl.chain(&table, &chain) });
                                                }
                                            }>
                                                <summary>
                                                    <span class="chain-name">{c.name.clone()}</span>
                                                    <span class=format!("policy policy-{}", policy.to_lowercase())>{policy.clone()}</span>
                                                    <span class="count">{format!("{count} rule{}", if count == 1 { "" } else { "s" })}</span>
                                                </summary>
                                                <ol class="rules">
                                                    {move || chain_rules.with(|m| m.get(&key).cloned()).unwrap_or_default().into_iter().map(|r| view! {
                                                        <li data-line=r.line><span class="rule-line">{format!("line {}", r.line)}</span><code>{r.spec}</code></li>
                                                    }).collect_view()}
                                                    {(hidden > 0).then(|| view! { <li class="more">{format!("… {hidden} more rules")}</li> })}
                                                </ol>
                                            </details>
                                        </li>
                                    }
                                }).collect_view()}
                                {(more > 0).then(|| view! { <li class="more">{format!("… {more} more chains")}</li> })}
                            </ul>
                            </Show>
                        </details>
                    }
                }).collect_view()}
            </div>
        </details>
    }
}

/// The packet sequence, the form of the selected packet, its quick form, the host.
#[component]
fn PacketPane(
    packets: RwSignal<Vec<PacketInput>>,
    selected: RwSignal<usize>,
    view: RwSignal<Option<Result<PlayView, TraceProblems>>>,
    addrs: RwSignal<String>,
    routes: RwSignal<String>,
    sysctl: RwSignal<nfsim::net::host::Sysctl>,
    ipsets: RwSignal<String>,
    backend: RwSignal<nfsim::path::pipeline::Backend>,
    listening: RwSignal<String>,
    open: RwSignal<Vec<String>>,
    player: Player,
) -> impl IntoView {
    let (host_open, host_toggle) = panel_open(open, "host");
    let interfaces = Memo::new(move |_| {
        view.with(|v| match v {
            Some(Ok(v)) => v.interfaces.clone(),
            Some(Err(e)) => e.interfaces.clone(),
            None => vec!["lo".into(), "eth0".into(), "eth1".into()],
        })
    });
    // The form shown: the selected packet's, or (for a reply) the packet it answers.
    let form = Memo::new(move |_| {
        packets.with(|ps| {
            let mut i = selected.get().min(ps.len().saturating_sub(1));
            loop {
                match &ps[i] {
                    PacketInput::Form(f) => return (f.clone(), i == selected.get()),
                    PacketInput::ReplyTo(n) => i = *n,
                }
            }
        })
    });
    let editable = move || form.with(|(_, own)| *own);
    let errors = Memo::new(move |_| {
        let (f, _) = form.get();
        interfaces.with(|i| f.check(i))
    });
    let error_of = move |field: Field| {
        errors.with(|e| {
            e.iter()
                .find(|e| e.field == field)
                .map(|e| e.message.clone())
        })
    };
    let set = move |apply: &dyn Fn(&mut PacketForm)| {
        packets.update(|ps| {
            if let Some(PacketInput::Form(f)) = ps.get_mut(selected.get_untracked()) {
                apply(f);
            }
        });
    };
    let quick = RwSignal::new(PacketForm::default().quick());
    let quick_error: RwSignal<Option<String>> = RwSignal::new(None);
    let editing_quick = RwSignal::new(false);
    Effect::new(move |_| {
        let q = form.with(|(f, _)| f.quick());
        if !editing_quick.get_untracked() {
            quick.set(q);
            quick_error.set(None);
        }
    });

    let text_field = move |label: &'static str,
                           field: Field,
                           get: fn(&PacketForm) -> String,
                           put: fn(&mut PacketForm, String),
                           class: &'static str| {
        let id = format!("f-{field:?}").to_lowercase();
        let err_id = format!("{id}-err");
        view! {
            <div class=format!("field {class}")>
                <label for=id.clone()>{label}</label>
                <input id=id type="text" spellcheck="false" autocomplete="off"
                    prop:value=move || form.with(|(f, _)| get(f))
                    prop:disabled=move || !editable()
                    aria-invalid=move || error_of(field).is_some().to_string()
                    aria-describedby=err_id.clone()
                    on:input=move |ev| { let v = event_target_value(&ev); set(&|f| put(f, v.clone())); } />
                <span class="field-error" id=err_id role="alert">{move || error_of(field)}</span>
            </div>
        }
    };
    let proto = move || form.with(|(f, _)| f.protocol.trim().to_ascii_lowercase());
    let packet_list = move || {
        let fates: Vec<(String, String, String)> = view.with(|v| match v {
            Some(Ok(v)) => v
                .packets
                .iter()
                .map(|p| {
                    // `forwarded 203.0.113.10:80`: the fate, and where it leaves for.
                    let outcome = match &p.leaves_as {
                        Some(to) if matches!(p.fate.result.as_str(), "forwarded" | "sent") => {
                            format!("{} {to}", p.fate.result)
                        }
                        _ => p.fate.result.clone(),
                    };
                    (p.title.clone(), p.fate.banner.clone(), outcome)
                })
                .collect(),
            _ => Vec::new(),
        });
        packets.get().into_iter().enumerate().map(|(i, p)| {
            let (title, fate, outcome) = fates.get(i).cloned().unwrap_or_default();
            let what = match p {
                PacketInput::Form(_) => format!("#{}", i + 1),
                PacketInput::ReplyTo(n) => format!("#{} reply to #{}", i + 1, n + 1),
            };
            view! {
                <li>
                    <button class="packet-chip" data-outcome=outcome aria-pressed=move || (selected.get() == i).to_string()
                        on:click=move |_| { selected.set(i); player.restart(); }>
                        <span class="chip-n">{what}</span>
                        <span class="chip-title">{title}</span>
                        <span class="chip-fate">{fate}</span>
                    </button>
                </li>
            }
        }).collect_view()
    };
    let send_reply = move |_| {
        let n = selected.get_untracked();
        packets.update(|ps| ps.push(PacketInput::ReplyTo(n)));
        selected.set(packets.with_untracked(|p| p.len() - 1));
        player.restart();
    };
    let add_packet = move |_| {
        let f = form.get_untracked().0;
        packets.update(|ps| ps.push(PacketInput::Form(f)));
        selected.set(packets.with_untracked(|p| p.len() - 1));
        player.restart();
    };
    let remove_last = move |_| {
        packets.update(|ps| {
            if ps.len() > 1 {
                ps.pop();
            }
        });
        selected.update(|s| *s = (*s).min(packets.with_untracked(|p| p.len() - 1)));
        player.restart();
    };
    let trace_problems = move || {
        view.with(|v| match v {
            Some(Err(e)) => e.messages.clone(),
            _ => Vec::new(),
        })
    };
    view! {
        <div class="packet-pane">
            <div class="quick">
                <label for="quick">"Packet"</label>
                <input id="quick" type="text" spellcheck="false" autocomplete="off" aria-label="Packet (one line)"
                    prop:value=move || quick.get()
                    prop:disabled=move || !editable()
                    on:focus=move |_| editing_quick.set(true)
                    on:blur=move |_| { editing_quick.set(false); if quick_error.get_untracked().is_none() { quick.set(form.get_untracked().0.quick()); } }
                    on:input=move |ev| {
                        let text = event_target_value(&ev);
                        quick.set(text.clone());
                        match form.get_untracked().0.parse_quick(&text) {
                            Ok(f) => { quick_error.set(None); set(&|g| *g = f.clone()); }
                            Err(e) => quick_error.set(Some(e)),
                        }
                    } />
                <span class="field-error" role="alert">{move || quick_error.get()}</span>
                <div class="seq-buttons">
                    <button on:click=send_reply title="Add the reply to the selected packet, as the receiver would send it">"Send reply"</button>
                    <button on:click=add_packet title="Add another packet like the selected one">"Add packet"</button>
                    <button on:click=remove_last prop:disabled=move || packets.with(|p| p.len() < 2)>"Remove last"</button>
                </div>
            </div>
            <div class="fields">
                <div class="field">
                    <label for="f-arrives">"Arrives on"</label>
                    <select id="f-arrives" prop:disabled=move || !editable()
                        on:change=move |ev| { let v = event_target_value(&ev); set(&|f| f.arrives_on = v.clone()); }>
                        {move || {
                            let cur = form.with(|(f, _)| f.arrives_on.clone());
                            let mut opts: Vec<(String, String)> = interfaces.get().into_iter().map(|i| (i.clone(), i)).collect();
                            opts.push(("local".into(), "locally generated".into()));
                            if !opts.iter().any(|(v, _)| *v == cur) {
                                opts.push((cur.clone(), format!("{cur} (not on the host)")));
                            }
                            opts.into_iter().map(|(v, l)| {
                                let sel = v == cur;
                                view! { <option value=v selected=sel>{l}</option> }
                            }).collect_view()
                        }}
                    </select>
                    <span class="field-error" role="alert">{move || error_of(Field::ArrivesOn)}</span>
                </div>
                {text_field("Source address", Field::Src, |f| f.src.clone(), |f, v| f.src = v, "addr")}
                {text_field("Destination address", Field::Dst, |f| f.dst.clone(), |f, v| f.dst = v, "addr")}
                <div class="field">
                    <label for="f-proto">"Protocol"</label>
                    <select id="f-proto" prop:disabled=move || !editable()
                        on:change=move |ev| { let v = event_target_value(&ev); set(&|f| f.protocol = v.clone()); }>
                        {move || { let cur = proto(); PROTOCOLS.into_iter().map(|p| {
                            let sel = p == cur;
                            view! { <option value=p selected=sel>{p}</option> }
                        }).collect_view() }}
                    </select>
                </div>
                <Show when=move || has_ports(&proto())>
                    {text_field("Source port", Field::Sport, |f| f.sport.clone(), |f, v| f.sport = v, "port")}
                    {text_field("Destination port", Field::Dport, |f| f.dport.clone(), |f, v| f.dport = v, "port")}
                </Show>
                <Show when=move || proto() == "tcp">
                    {text_field("TCP flags", Field::TcpFlags, |f| f.tcp_flags.clone(), |f, v| f.tcp_flags = v, "flags")}
                </Show>
                <Show when=move || proto() == "icmp">
                    {text_field("ICMP type", Field::IcmpType, |f| f.icmp_type.clone(), |f, v| f.icmp_type = v, "port")}
                    {text_field("ICMP code", Field::IcmpCode, |f| f.icmp_code.clone(), |f, v| f.icmp_code = v, "port")}
                </Show>
                {text_field("Mark", Field::Mark, |f| f.mark.clone(), |f, v| f.mark = v, "port")}
                <Show when=move || form.with(|(f, _)| f.is_local())>
                    {text_field("UID", Field::Uid, |f| f.uid.clone(), |f, v| f.uid = v, "port")}
                </Show>
                <ol class="packets" aria-label="Packets">{packet_list}</ol>
            </div>
            {move || {
                let msgs = trace_problems();
                (!msgs.is_empty()).then(|| view! {
                    <ul class="trace-problems" role="alert">{msgs.into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}</ul>
                })
            }}
            <details class="host" prop:open=host_open on:toggle=host_toggle>
                <summary>"Host: interfaces, routes, sysctls, sockets, ipsets, backend"</summary>
                <div class="host-grid">
                    <label class="host-field">
                        <span>"Addresses — paste " <code>"ip -4 addr"</code> " (or " <code>"ip addr"</code> ") output"</span>
                        <textarea aria-label="Host addresses" spellcheck="false" prop:value=move || addrs.get() on:change=move |ev| addrs.set(event_target_value(&ev))></textarea>
                    </label>
                    <label class="host-field">
                        <span>"Routes — paste " <code>"ip -4 route"</code> " output"</span>
                        <textarea aria-label="Host routes" spellcheck="false" prop:value=move || routes.get() on:change=move |ev| routes.set(event_target_value(&ev))></textarea>
                    </label>
                </div>
                <div class="sysctls" role="group" aria-label="Sysctls">
                    <label><input type="checkbox" prop:checked=move || sysctl.get().ip_forward
                        on:change=move |ev| { let on = event_target_checked(&ev); sysctl.update(|s| s.ip_forward = on); } />
                        " " <code>"net.ipv4.ip_forward"</code></label>
                    <label><input type="checkbox" prop:checked=move || sysctl.get().route_localnet
                        on:change=move |ev| { let on = event_target_checked(&ev); sysctl.update(|s| s.route_localnet = on); } />
                        " " <code>"net.ipv4.conf.all.route_localnet"</code></label>
                    <label><code>"net.ipv4.conf.all.rp_filter"</code> " "
                        <select aria-label="rp_filter" on:change=move |ev| { let v = event_target_value(&ev).parse().unwrap_or(0); sysctl.update(|s| s.rp_filter = v); }>
                            {move || [(0u8, "0 (off)"), (1, "1 (strict)"), (2, "2 (loose)")].into_iter().map(|(v, l)| {
                                let sel = sysctl.get().rp_filter == v;
                                view! { <option value=v.to_string() selected=sel>{l}</option> }
                            }).collect_view()}
                         </select>
                    </label>
                    <label>"iptables backend "
                        <select aria-label="iptables backend" title="Which iptables loaded the rules: they differ in where the security table runs in INPUT (iptables-nft after nat, iptables-legacy before it)"
                            on:change=move |ev| { if let Some(b) = nfsim::path::pipeline::Backend::parse(&event_target_value(&ev)) { backend.set(b); } }>
                            {move || [(nfsim::path::pipeline::Backend::Nft, "iptables-nft"), (nfsim::path::pipeline::Backend::Legacy, "iptables-legacy")].into_iter().map(|(b, l)| {
                                let sel = backend.get() == b;
                                view! { <option value=b.name() selected=sel>{l}</option> }
                            }).collect_view()}
                        </select>
                    </label>
                </div>
                <label class="host-field">
                    <span>"Listening sockets — " <code>"tcp/22 udp/53"</code> ", " <code>"none"</code> ", or empty (not modelled): other ports get the host's RST or port unreachable"</span>
                    <input type="text" aria-label="Listening sockets" spellcheck="false" placeholder="not modelled" prop:value=move || listening.get() on:change=move |ev| listening.set(event_target_value(&ev)) />
                </label>
                <label class="host-field">
                    <span>"ipsets — paste " <code>"ipset save"</code> " output (for " <code>"-m set"</code> " rules)"</span>
                    <textarea aria-label="ipsets" spellcheck="false" prop:value=move || ipsets.get() on:change=move |ev| ipsets.set(event_target_value(&ev))></textarea>
                </label>
            </details>
        </div>
    }
}

#[component]
pub fn FlowDiagram(
    player: Player,
    current: Memo<Option<PacketView>>,
    parse_view: RwSignal<Option<ParseView>>,
    /// The order of the tables in each hook (iptables-nft unless given).
    #[prop(optional)]
    backend: nfsim::path::pipeline::Backend,
) -> impl IntoView {
    let d: Diagram = diagram::diagram_for(backend);
    let states = Memo::new(move |_| {
        let c = player.cursor.get();
        player.frames.with(|f| box_states(f, c))
    });
    let dimmed = Memo::new(move |_| {
        parse_view.with(|p| p.as_ref().map(|p| p.dimmed.clone()).unwrap_or_default())
    });
    let cur_node = Memo::new(move |_| {
        let c = player.cursor.get();
        player.frames.with(|f| f.get(c).map(|f| f.node.clone()))
    });
    let path_taken = {
        let d = d.clone();
        Memo::new(move |_| {
            let c = player.cursor.get();
            player.frames.with(|f| {
                let mut pts: Vec<(f64, f64)> = Vec::new();
                let mut prev: Option<&str> = None;
                for fr in f.iter().take(c + 1) {
                    match prev {
                        Some(p) if p == fr.node => {}
                        Some(p) => pts.extend(d.route(p, &fr.node).into_iter().skip(1)),
                        None => pts.extend(d.node(&fr.node).map(|n| n.anchor())),
                    }
                    prev = Some(&fr.node);
                }
                pts.iter()
                    .map(|(x, y)| format!("{x:.1},{y:.1}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
        })
    };
    let token = {
        let d = d.clone();
        move || {
            let c = player.cursor.get();
            let t = ease(player.travel.get());
            player.frames.with(|f| {
                let fr = f.get(c)?;
                let prev = if c > 0 { &f[c - 1].node } else { &fr.node };
                let route = d.route(prev, &fr.node);
                Some(along(&route, t))
            })
        }
    };
    let fate_result = move || current.with(|c| c.as_ref().map(|c| c.fate.result.clone()));
    // (field, value, changed) of the packet at the cursor, for the badge.
    let badge = Memo::new(move |_| {
        let rows = player.state_rows(current);
        {
            let get = |n: &str| rows.iter().find(|r| r.name == n);
            let end = |a: &str, port: &str| match (get(a), get(port)) {
                (Some(a), Some(p)) => Some((
                    format!("{}:{}", a.value, p.value),
                    a.before.is_some() || p.before.is_some(),
                )),
                (Some(a), None) => Some((a.value.clone(), a.before.is_some())),
                _ => None,
            };
            let mut out = vec![(
                "packet".to_string(),
                get("Protocol").map(|r| r.value.clone()).unwrap_or_default(),
                false,
            )];
            if let Some((v, ch)) = end("Source address", "Source port") {
                out.push(("from".into(), v, ch));
            }
            if let Some((v, ch)) = end("Destination address", "Destination port") {
                out.push(("to".into(), v, ch));
            }
            if let Some(m) = get("Mark") {
                out.push(("mark".into(), m.value.clone(), m.before.is_some()));
            }
            if let Some(ct) = get("Conntrack") {
                out.push(("conntrack".into(), ct.value.clone(), false));
            }
            out
        }
    });
    let nodes = d.nodes.clone();
    let groups = d.groups.clone();
    let edges = d.edges.clone();
    let goto_node = move |id: String| {
        let to = player
            .frames
            .with_untracked(|f| f.iter().position(|f| f.node == id));
        if let Some(i) = to {
            player.seek(i);
        }
    };
    view! {
        <figure class="diagram">
            <svg role="img" aria-label="Packet flow diagram" viewBox=format!("0 0 {} {}", d.width, d.height) preserveAspectRatio="xMidYMid meet">
                <defs>
                    <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                        <path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" />
                    </marker>
                </defs>
                {edges.into_iter().map(|e| {
                    let pts = e.points.iter().map(|(x, y)| format!("{x},{y}")).collect::<Vec<_>>().join(" ");
                    let label = e.label.clone().map(|l| {
                        let (x, y) = along(&e.points, 0.5);
                        view! { <text class="edge-label" x=x y=y - 4.0 text-anchor="middle">{l}</text> }
                    });
                    view! {
                        <polyline class=if e.dashed { "edge dashed" } else { "edge" } points=pts marker-end="url(#arrow)" />
                        {label}
                    }
                }).collect_view()}
                {groups.into_iter().map(|g| view! {
                    <g class="hook" data-hook=g.hook.clone()>
                        <rect class="hook-frame" x=g.x y=g.y width=g.w height=g.h rx="6" />
                        <text class="hook-name" x=g.x + g.w / 2.0 y=g.y + 14.0 text-anchor="middle">{g.hook.clone()}</text>
                    </g>
                }).collect_view()}
                <polyline class="path-taken" points=move || path_taken.get() />
                {nodes.into_iter().map(|n| {
                    let id = n.id.clone();
                    let id2 = n.id.clone();
                    let id3 = n.id.clone();
                    let id4 = n.id.clone();
                    let id5 = n.id.clone();
                    let state = move || {
                        if cur_node.with(|c| c.as_deref() == Some(id.as_str())) {
                            "current"
                        } else if states.with(|s| s.contains_key(&id)) {
                            "visited"
                        } else {
                            "unvisited"
                        }
                    };
                    let verdict = move || states.with(|s| s.get(&id2).cloned().flatten());
                    let verdict2 = verdict.clone();
                    let dim = move || dimmed.with(|d| d.contains(&id3));
                    let (cx, cy) = n.center();
                    let kind = match n.kind { NodeKind::Table => "table", NodeKind::Conntrack => "conntrack", NodeKind::Routing => "routing", NodeKind::End => "end" };
                    let shape = match n.kind {
                        NodeKind::Routing => view! {
                            <polygon class="shape" points=format!("{},{} {},{} {},{} {},{}", cx, n.y, n.x + n.w, cy, cx, n.y + n.h, n.x, cy) />
                        }.into_any(),
                        NodeKind::End => view! { <rect class="shape" x=n.x y=n.y width=n.w height=n.h rx="17" /> }.into_any(),
                        _ => view! { <rect class="shape" x=n.x y=n.y width=n.w height=n.h rx="4" /> }.into_any(),
                    };
                    let is_table = n.kind == NodeKind::Table;
                    let label_y = if matches!(n.kind, NodeKind::Table | NodeKind::Conntrack) { n.y + 16.0 } else { cy + 4.0 };
                    let label_x = n.label_x();
                    let title = format!("{}{}", n.hook.clone().map(|h| format!("{h} ")).unwrap_or_default(), n.label);
                    view! {
                        <g class=move || format!("node {kind}{}", if dim() { " dim" } else { "" })
                            data-node=id4.clone()
                            data-hook=if is_table { n.hook.clone() } else { None }
                            data-table=if is_table { n.table.clone() } else { None }
                            data-state=state
                            data-verdict=move || if is_table { verdict() } else { None }
                            on:click=move |_| goto_node(id5.clone())>
                            <title>{title}</title>
                            {shape}
                            <text class="label" x=label_x y=label_y text-anchor="start">{n.label.clone()}</text>
                            {(matches!(n.kind, NodeKind::Table | NodeKind::Conntrack | NodeKind::Routing)).then(|| {
                                let (vx, vy, va) = if n.kind == NodeKind::Routing { (cx, n.y + n.h + 11.0, "middle") } else { (n.x + n.w - 5.0, n.y + 16.0, "end") };
                                let verdict = verdict2.clone();
                                // What fits right of the box's name (9 px monospace verdicts).
                                let room = if n.kind == NodeKind::Routing { 24 } else {
                                    ((n.w - (n.label_x() - n.x) - n.label.len() as f64 * 7.0 - 8.0) / 5.4).max(6.0) as usize
                                };
                                view! { <text class="verdict" x=vx y=vy text-anchor=va>{move || verdict().map(|v| short_verdict(&v, room))}</text> }
                            })}
                        </g>
                    }
                }).collect_view()}
                {move || token().map(|(x, y)| {
                    // NAT changed an address or port: the badge's `from`/`to` rows say so.
                    let changed = badge.with(|b| b.iter().any(|(name, _, ch)| *ch && (name == "from" || name == "to")));
                    let dropped = player.at_end() && matches!(fate_result().as_deref(), Some("dropped" | "rejected" | "dropped-outside-rules" | "queued"));
                    view! {
                        <g class="token" class:changed=changed class:dropped=dropped transform=format!("translate({x:.1},{y:.1})")>
                            <circle r="8.5" />
                            {dropped.then(|| view! { <path class="cross" d="M -4.5 -4.5 L 4.5 4.5 M 4.5 -4.5 L -4.5 4.5" /> })}
                        </g>
                    }
                })}
                // The packet as it is at this step, where the diagram has room.
                <g class="badge" transform=format!("translate(8,{})", d.height - 96.0)>
                    {move || badge.get().into_iter().enumerate().map(|(i, (name, value, changed))| view! {
                        <text y=i as f64 * 15.0 class:changed=changed>
                            <tspan class="badge-name">{name}</tspan>
                            <tspan class="badge-value" x="74">{value}</tspan>
                        </text>
                    }).collect_view()}
                </g>
            </svg>
        </figure>
    }
}

#[component]
fn PlayerBar(player: Player) -> impl IntoView {
    let len = move || player.frames.with(|f| f.len());
    view! {
        <div class="player" role="toolbar" aria-label="Player">
            <button on:click=move |_| player.restart() title="Restart (Home); End jumps to the last step">
                <svg class="icon" viewBox="0 0 16 16" aria-hidden="true"><path d="M3 3v10M13 3L5 8l8 5z" /></svg>
                <span class="sr">"Restart"</span>
            </button>
            <button on:click=move |_| player.step(true) title="Step back (←)"><span aria-hidden="true">"◀"</span><span class="sr">"Step back"</span></button>
            <Show when=move || player.playing.get()
                fallback=move || view! {
                    <button class="primary" on:click=move |_| player.toggle() title="Play (space)">
                        <svg class="icon" viewBox="0 0 16 16" aria-hidden="true"><path d="M4 2.5v11l9-5.5z" /></svg>
                        " Play"
                    </button>
                }>
                <button class="primary" on:click=move |_| player.toggle() title="Pause (space)">
                    <svg class="icon" viewBox="0 0 16 16" aria-hidden="true"><path d="M4 3h3v10H4zM9 3h3v10H9z" /></svg>
                    " Pause"
                </button>
            </Show>
            <button on:click=move |_| player.step(false) title="Step forward (→)"><span aria-hidden="true">"▶"</span><span class="sr">"Step forward"</span></button>
            <input class="timeline" type="range" min="0" aria-label="Timeline"
                prop:max=move || len().saturating_sub(1).to_string()
                prop:value=move || player.cursor.get().to_string()
                on:input=move |ev| {
                    if let Ok(v) = event_target_value(&ev).parse::<usize>() {
                        player.playing.set(false);
                        player.cursor.set(v);
                        player.travel.set(1.0);
                    }
                } />
            <span class="step-count">{move || format!("{}/{}", (player.cursor.get() + 1).min(len()), len())}</span>
            <label class="mini">"Step by "
                <select aria-label="Step by" on:change=move |ev| player.granularity.set(granularity_of(&event_target_value(&ev)))>
                    {move || ["rule", "chain", "hook"].into_iter().map(|g| {
                        let sel = granularity_name(player.granularity.get()) == g;
                        view! { <option value=g selected=sel>{g}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label class="mini">"Speed "
                <select aria-label="Speed" on:change=move |ev| player.speed.set(event_target_value(&ev).parse().unwrap_or(1.0))>
                    <option value="0.5">"0.5×"</option>
                    <option value="1" selected>"1×"</option>
                    <option value="2">"2×"</option>
                    <option value="4">"4×"</option>
                </select>
            </label>
        </div>
    }
}

#[component]
pub fn Narration(player: Player, current: Memo<Option<PacketView>>) -> impl IntoView {
    let text = move || {
        let c = player.cursor.get();
        player
            .frames
            .with(|f| f.get(c).map(|f| f.narration.clone()))
            .unwrap_or_else(|| {
                "Craft a packet and press Play to follow it through the hooks.".into()
            })
    };
    let fate = move || current.with(|c| c.as_ref().map(|c| (c.fate.clone(), c.cost.text())));
    view! {
        <div class="narration-row">
            <p class="narration" role="status" aria-live="polite" aria-label="Narration">{text}</p>
            {move || fate().map(|(f, cost)| {
                let result = f.result.clone();
                view! {
                <div class="fate-col">
                <p class=move || format!("fate fate-{}{}", result, if player.at_end() { " final" } else { "" })
                    role="status" aria-label="Fate" data-fate=f.result.clone() title=f.text.clone() data-testid="fate">
                    <span class="fate-banner">{f.banner.clone()}</span>
                </p>
                <p class="cost" aria-label="Cost of the walk" title="iptables tries a chain's rules one by one: the cost grows with the number of rules (ipvs and nftables maps look services up in a hash instead)">
                    {cost.clone()}
                </p>
                </div>
            }})}
        </div>
    }
}

#[component]
pub fn TraceList(
    player: Player,
    on_pick: impl Fn(usize) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let list = NodeRef::<leptos::html::Ol>::new();
    // Keep the current step in view.
    Effect::new(move |_| {
        let c = player.cursor.get();
        if let Some(ol) = list.get() {
            if let Some(li) = ol.children().item(c as u32) {
                // Scroll the list only, never the page around it.
                let li: web_sys::HtmlElement = li.unchecked_into();
                let (top, h) = (li.offset_top() - ol.offset_top(), li.offset_height());
                let (st, oh) = (ol.scroll_top(), ol.client_height());
                if top < st {
                    ol.set_scroll_top(top);
                } else if top + h > st + oh {
                    ol.set_scroll_top(top + h - oh);
                }
            }
        }
    });
    view! {
        <div class="trace-pane">
            <h2 class="pane-title">"Trace"</h2>
            <ol class="trace" aria-label="Trace" node_ref=list>
                {move || player.frames.get().into_iter().enumerate().map(|(i, f)| {
                    let mark = f.mark();
                    let line = f.line;
                    let class = format!("step {}{}", f.kind, if f.matched { " matched" } else { "" });
                    view! {
                        <li class=class data-kind=f.kind.clone() data-line=f.line
                            aria-current=move || (player.cursor.get() == i).then_some("step")
                            style=format!("--depth:{}", f.depth)>
                            <button class="step-button" on:click=move |_| { player.seek(i); if let Some(l) = line { on_pick(l) } }>
                                <span class="mark" aria-hidden="true">{mark}</span>
                                <span class="step-text">{f.text.clone()}</span>
                            </button>
                            {f.detail.clone().filter(|_| f.kind != "nat").map(|d| view! { <div class="step-detail">{d}</div> })}
                        </li>
                    }
                }).collect_view()}
            </ol>
        </div>
    }
}

#[component]
fn Outcomes(view: Memo<Option<PlayView>>, branch: RwSignal<Option<Vec<bool>>>) -> impl IntoView {
    let outcomes =
        move || view.with(|v| v.as_ref().map(|v| v.outcomes.clone()).unwrap_or_default());
    view! {
        <Show when=move || !outcomes().is_empty()>
            <section class="outcomes-pane" aria-label="All branches">
                <h2 class="pane-title">"All branches"</h2>
                <ul class="outcomes" aria-label="Outcomes">
                    {move || outcomes().into_iter().map(|o: OutcomeView| {
                        let choices = o.choices.clone();
                        view! {
                            <li class:shown=o.shown>
                                <button aria-pressed=o.shown.to_string() title="Animate this branch"
                                    on:click=move |_| branch.set(Some(choices.clone()))>
                                    <span class="odds">{o.percent.clone()}</span>
                                    <span class="bar" style=format!("--p:{:.3}", o.probability)></span>
                                    <span class="to">{o.to.clone()}</span>
                                </button>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </section>
        </Show>
    }
}

#[component]
fn PacketState(player: Player, current: Memo<Option<PacketView>>) -> impl IntoView {
    let rows = move || player.state_rows(current);
    view! {
        <section class="state-pane" aria-label="Packet state">
            <h2 class="pane-title">"Packet at this step"</h2>
            <table class="fields-table">
                <tbody>
                    {move || rows().into_iter().map(|r| view! {
                        <tr class:changed=r.before.is_some()>
                            <th scope="row">{r.name.clone()}</th>
                            <td>
                                {r.before.clone().map(|b| view! { <span class="before">{b}</span> " → " })}
                                <span class="value">{r.value.clone()}</span>
                            </td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

/// Drill-down: the chain walk at the current box, rule by rule.
#[component]
pub fn BoxWalk(player: Player) -> impl IntoView {
    let visit = Memo::new(move |_| {
        let c = player.cursor.get();
        player.frames.with(|f| {
            let (a, b) = box_visit(f, c);
            let title = f.get(c).map(|f| match (&f.hook, &f.table) {
                (Some(h), Some(t)) => format!("{t} {h}"),
                _ => match f.kind.as_str() {
                    "conntrack" => format!("conntrack {}", f.hook.clone().unwrap_or_default()),
                    "routing" => "routing decision".into(),
                    "start" => "the packet arrives".into(),
                    "fate" => "the end".into(),
                    "answer" => "the host answers".into(),
                    "answer-fate" => "the end of the answer".into(),
                    k => k.into(),
                },
            });
            (a, f[a..b].to_vec(), title.unwrap_or_default())
        })
    });
    view! {
        <section class="walk-pane" aria-label="Walk at this box">
            <h2 class="pane-title">{move || format!("At this box: {}", visit.with(|v| v.2.clone()))}</h2>
            <ol class="walk">
                {move || { let (a, frames, _) = visit.get(); frames.into_iter().enumerate().map(|(k, f)| {
                    let i = a + k;
                    let mark = f.mark();
                    let why = match f.kind.as_str() {
                        "rule" | "rules" if !f.matched => f.detail.clone(),
                        _ => None,
                    };
                    view! {
                        <li class=format!("walk-step {}{}", f.kind, if f.matched { " matched" } else { "" })
                            aria-current=move || (player.cursor.get() == i).then_some("step")
                            style=format!("--depth:{}", f.depth)>
                            <button class="step-button" on:click=move |_| player.seek(i)>
                                <span class="mark" aria-hidden="true">{mark}</span>
                                <span>{f.text.clone()}</span>
                            </button>
                            {why.map(|w| view! { <div class="why">{w}</div> })}
                        </li>
                    }
                }).collect_view() }}
            </ol>
        </section>
    }
}

/// A "Run N packets" in progress or done.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchRun {
    pub id: u32,
    pub result: Option<Result<crate::session::BatchView, TraceProblems>>,
    pub running: bool,
}

fn stop_batch(
    batch: RwSignal<Option<BatchRun>>,
    client: StoredValue<Option<Client>, LocalStorage>,
) {
    if let Some(b) = batch.get_untracked() {
        if b.running {
            client.with_value(|c| {
                if let Some(c) = c {
                    c.cancel(b.id)
                }
            });
        }
        batch.set(None);
    }
}

/// "Run N packets": N copies of the selected packet, each a new connection,
/// with where they went as bars and each rule's packet count in the gutter.
#[component]
fn RunPackets(
    batch: RwSignal<Option<BatchRun>>,
    input: Memo<PlayInput>,
    client: StoredValue<Option<Client>, LocalStorage>,
) -> impl IntoView {
    let n = RwSignal::new("1000".to_string());
    let n_error = move || match n.with(|n| n.trim().parse::<u64>()) {
        Ok(k) if (1..=1_000_000).contains(&k) => None,
        _ => Some("a number of packets from 1 to 1,000,000".to_string()),
    };
    let run = move |_| {
        let Ok(k) = n.get_untracked().trim().parse::<u64>() else {
            return;
        };
        if !(1..=1_000_000).contains(&k) {
            return;
        }
        stop_batch(batch, client);
        let id = client.with_value(|c| c.as_ref().map(|c| c.batch(input.get_untracked(), k)));
        if let Some(id) = id {
            batch.set(Some(BatchRun {
                id,
                result: None,
                running: true,
            }));
        }
    };
    let cancel = move |_| {
        if let Some(b) = batch.get_untracked() {
            client.with_value(|c| {
                if let Some(c) = c {
                    c.cancel(b.id)
                }
            });
            batch.update(|b| {
                if let Some(b) = b {
                    b.running = false
                }
            });
        }
    };
    let running = move || batch.with(|b| b.as_ref().is_some_and(|b| b.running));
    let view_of = move || batch.with(|b| b.as_ref().and_then(|b| b.result.clone()));
    let bars = |label: &'static str, rows: Vec<(String, u64)>, total: u64| {
        let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1);
        view! {
            <ul class="bars" aria-label=label>
                {rows.into_iter().map(|(name, k)| {
                    let pct = if total > 0 { k as f64 * 100.0 / total as f64 } else { 0.0 };
                    let key = name.clone();
                    view! {
                        <li data-name=key data-count=k>
                            <span class="bar-name">{name}</span>
                            <span class="bar" style=format!("--w:{:.4}", k as f64 / max as f64)></span>
                            <span class="bar-count">{format!("{k} ({pct:.1}%)")}</span>
                        </li>
                    }
                }).collect_view()}
            </ul>
        }
    };
    view! {
        <section class="batch-pane" aria-label="Many packets">
            <h2 class="pane-title">"Many packets"</h2>
            <div class="batch-controls">
                <label for="batch-n">"Packets"</label>
                <input id="batch-n" type="text" inputmode="numeric" size="8" aria-label="Number of packets"
                    aria-invalid=move || n_error().is_some().to_string()
                    prop:value=move || n.get() on:input=move |ev| n.set(event_target_value(&ev)) />
                <button on:click=run prop:disabled=move || n_error().is_some() title="Send N copies of the selected packet, each a new connection (the source port steps up), and count where they go">"Run N packets"</button>
                <Show when=running>
                    <button on:click=cancel>"Cancel"</button>
                </Show>
                <span class="field-error" role="alert">{n_error}</span>
            </div>
            {move || view_of().map(|r| match r {
                Err(e) => view! { <ul class="trace-problems" role="alert">{e.messages.into_iter().chain(e.fields.into_iter().flat_map(|(_, f)| f.into_iter().map(|f| f.message))).map(|m| view! { <li>{m}</li> }).collect_view()}</ul> }.into_any(),
                Ok(v) => {
                    let stopped = !running() && v.sent < v.total;
                    view! {
                        <progress aria-label="Progress" max=v.total.to_string() value=v.sent.to_string()></progress>
                        <p class="batch-summary" role="status">
                            {format!("{} of {} packets{}", v.sent, v.total, if stopped { " (cancelled)" } else { "" })}
                        </p>
                        <h3>"Fates"</h3>
                        {bars("Fates", v.fates.clone(), v.sent)}
                        {(!v.endpoints.is_empty()).then(|| view! { <h3>"Left for"</h3> })}
                        {bars("Endpoints", v.endpoints.clone(), v.sent)}
                        <p class="never-hit" title="Rules no packet of this run matched: the gutter shows the packets each rule matched">
                            {format!("{} of {} rules never hit", v.never_hit, v.rules)}
                        </p>
                    }.into_any()
                }
            })}
        </section>
    }
}

/// The connection table after the last packet, as `conntrack -L` lists it.
#[component]
fn ConntrackTable(view: Memo<Option<PlayView>>, open: RwSignal<Vec<String>>) -> impl IntoView {
    let (is_open, toggle) = panel_open(open, "conntrack");
    let lines = move || view.with(|v| v.as_ref().map(|v| v.conntrack.clone()).unwrap_or_default());
    view! {
        <details class="conntrack-pane" prop:open=is_open on:toggle=toggle>
            <summary class="pane-title">{move || format!("Connection tracking ({})", lines().len())}</summary>
            <pre class="conntrack-list" aria-label="Conntrack table">{move || {
                let l = lines();
                if l.is_empty() { "No connections: conntrack -L lists nothing.".to_string() } else { l.join("\n") }
            }}</pre>
        </details>
    }
}

/// Where the page starts.
struct Start {
    shared: Shared,
    /// Said above the editor (the draft is back, notes on a link).
    notice: Option<String>,
    /// A link that could not be opened, and why.
    alert: Option<String>,
    /// Set when the page shows a link rather than the user's draft.
    foreign: Option<String>,
}

impl Start {
    fn now() -> Start {
        let draft = browser::draft::load();
        let fragment = browser::fragment();
        let mut alert = None;
        if !fragment.is_empty() {
            match share::from_link(&fragment) {
                Ok((shared, notes)) => {
                    return Start {
                        shared,
                        notice: (!notes.is_empty()).then(|| notes.join(" ")),
                        alert: None,
                        foreign: Some("a shared link".into()),
                    }
                }
                Err(e) => {
                    alert = Some(format!(
                        "This link could not be opened: {e} {}",
                        if draft.is_some() {
                            "Your draft is shown instead."
                        } else {
                            "The example is shown instead."
                        }
                    ))
                }
            }
        }
        match draft {
            Some(shared) => Start {
                shared,
                notice: Some("Your scenario from last time in this browser is back.".into()),
                alert,
                foreign: None,
            },
            None => Start {
                shared: Shared {
                    ruleset: view_model::EXAMPLE.to_string(),
                    input: PlayInput::default(),
                    view: ViewState::default(),
                },
                notice: None,
                alert,
                foreign: None,
            },
        }
    }
}

/// The user changed what was opened: the draft it replaces is kept aside.
fn adopt(foreign: RwSignal<Option<String>>, has_backup: RwSignal<bool>) {
    if browser::draft::load().is_some() {
        browser::draft::back_up();
        has_backup.set(true);
    }
    foreign.set(None);
}

fn granularity_of(by: &str) -> Granularity {
    match by {
        "chain" => Granularity::Chain,
        "hook" => Granularity::Hook,
        _ => Granularity::Rule,
    }
}

fn granularity_name(g: Granularity) -> &'static str {
    match g {
        Granularity::Rule => "rule",
        Granularity::Chain => "chain",
        Granularity::Hook => "hook",
    }
}

/// A `<details>` whose open state is kept in the view (and so in links).
fn panel_open(
    open: RwSignal<Vec<String>>,
    name: &'static str,
) -> (impl Fn() -> bool + Copy, impl Fn(leptos::ev::Event) + Copy) {
    let is_open = move || open.with(|o| o.iter().any(|n| n == name));
    let toggle = move |ev: leptos::ev::Event| {
        let el: web_sys::HtmlDetailsElement = event_target(&ev);
        let now = el.open();
        if now != open.with_untracked(|o| o.iter().any(|n| n == name)) {
            open.update(|o| {
                o.retain(|n| n != name);
                if now {
                    o.push(name.to_string());
                }
            });
        }
    };
    (is_open, toggle)
}

/// The ruleset as canonical iptables-save, as `iptables` commands, or as
/// nftables (what `iptables-restore-translate` writes), from the worker.
#[component]
fn Export(
    exported: RwSignal<Option<(String, String)>>,
    client: StoredValue<Option<Client>, LocalStorage>,
    open: RwSignal<Vec<String>>,
) -> impl IntoView {
    let (is_open, toggle) = panel_open(open, "export");
    const FORMATS: [(&str, &str, &str); 3] = [
        ("save", "iptables-save", "rules.v4"),
        ("commands", "iptables commands", "rules.sh"),
        ("nft", "nftables (nft)", "rules.nft"),
    ];
    let ask = move |format: &'static str| {
        client.with_value(|c| {
            if let Some(c) = c {
                c.export(format)
            }
        })
    };
    view! {
        <details class="export-pane" prop:open=is_open on:toggle=toggle>
            <summary class="pane-title">"Export"</summary>
            <div class="export-buttons" role="group" aria-label="Export as">
                {FORMATS.into_iter().map(|(f, label, _)| view! {
                    <button aria-pressed=move || exported.with(|e| e.as_ref().is_some_and(|(g, _)| g == f)).to_string()
                        on:click=move |_| ask(f)>{label}</button>
                }).collect_view()}
            </div>
            {move || exported.get().map(|(format, text)| {
                let file = FORMATS.iter().find(|(f, _, _)| *f == format).map_or("rules.txt", |f| f.2);
                let t2 = text.clone();
                view! {
                    <textarea class="export-text" readonly aria-label="Exported ruleset" spellcheck="false" prop:value=text></textarea>
                    <div class="export-buttons">
                        <button on:click=move |_| browser::copy(&t2)>"Copy"</button>
                        <button on:click=move |_| { let _ = exported.with_untracked(|e| e.as_ref().map(|(_, t)| browser::download(file, t, "text/plain"))); }>{format!("Download {file}")}</button>
                    </div>
                }
            })}
        </details>
    }
}
