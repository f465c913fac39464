//! The Leptos components. Thin by design: they hold the ruleset text in one
//! signal, derive everything else through `Memo`s over the engine, and display
//! the view model. No iptables logic lives here.

use crate::view_model::{self, ProblemRow, TableNode};
use leptos::html::Textarea;
use leptos::prelude::*;
use std::sync::Arc;

/// How many problem rows the page renders at most.
const PROBLEMS_SHOWN: usize = 500;

pub fn mount() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

#[component]
pub fn App() -> impl IntoView {
    let (text, set_text) = signal(view_model::EXAMPLE.to_string());
    // A new parse always counts as a change: comparing two parsed dumps of
    // 100k rules would cost more than re-deriving the views.
    let parsed = Memo::new_with_compare(
        move |_| Arc::new(text.with(|t| nfsim::parse(t, None))),
        |a, b| match (a, b) {
            (Some(a), Some(b)) => !Arc::ptr_eq(a, b),
            _ => true,
        },
    );
    let problems = Memo::new(move |_| text.with(|t| parsed.with(|p| view_model::problems(t, p))));
    let tree = Memo::new(move |_| parsed.with(|p| view_model::tree(p)));
    let summary = Memo::new(move |_| parsed.with(|p| view_model::summary(p)));
    let editor = NodeRef::<Textarea>::new();

    // Clicking a problem selects its line in the editor.
    let pick = move |line: usize| {
        if let Some(el) = editor.get() {
            let (start, end) = text.with(|t| line_range_utf16(t, line));
            let _ = el.focus();
            let _ = el.set_selection_range(start, end);
        }
    };

    view! {
        <header class="topbar">
            <h1>"iptables playground"</h1>
            <span class="summary" data-testid="summary">{move || summary.get()}</span>
        </header>
        <main class="layout">
            <section class="editor-pane" aria-label="Editor">
                <label class="pane-title" for="ruleset">"Ruleset (iptables-save or iptables commands)"</label>
                <textarea
                    id="ruleset"
                    node_ref=editor
                    aria-label="Ruleset"
                    spellcheck="false"
                    autocomplete="off"
                    wrap="off"
                    // The textarea owns what the user types: it is filled once and
                    // never re-set from the signal (a pasted dump can be 20 MB).
                    prop:value=view_model::EXAMPLE
                    on:input=move |ev| set_text.set(event_target_value(&ev))
                ></textarea>
                <Problems problems=problems on_pick=pick />
            </section>
            <section class="tree-pane" aria-label="Ruleset tree">
                <h2 class="pane-title">"Tables and chains"</h2>
                <RulesetTree tree=tree />
            </section>
        </main>
    }
}

/// The UTF-16 range of 1-based `line` (what `setSelectionRange` counts).
fn line_range_utf16(text: &str, line: usize) -> (u32, u32) {
    let mut start = 0u32;
    for (i, l) in text.split('\n').enumerate() {
        let len = l.encode_utf16().count() as u32;
        if i + 1 == line {
            return (start, start + len);
        }
        start += len + 1;
    }
    (start, start)
}

#[component]
fn Problems(
    problems: Memo<Vec<ProblemRow>>,
    on_pick: impl Fn(usize) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <div class="problems-pane">
            <h2 class="pane-title">"Problems"</h2>
            <Show
                when=move || problems.with(|p| !p.is_empty())
                fallback=|| view! { <p class="no-problems" role="status">"No problems: the kernel would load this ruleset."</p> }
            >
                <ul class="problems" aria-label="Problems">
                    {move || {
                        problems
                            .get()
                            .into_iter()
                            .take(PROBLEMS_SHOWN)
                            .map(|p| {
                                let line = p.line;
                                view! {
                                    <li class=format!("problem {}", p.severity) data-line=p.line data-code=p.code>
                                        <button class="pos" title="Show this line" on:click=move |_| on_pick(line)>
                                            {p.position()}
                                        </button>
                                        <span class="sev">{format!("{}[{}]", p.severity, p.code)}</span>
                                        <span class="msg">{p.message.clone()}</span>
                                        {p.hint.clone().map(|h| view! { <div class="hint">{h}</div> })}
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ul>
            </Show>
        </div>
    }
}

#[component]
fn RulesetTree(tree: Memo<Vec<TableNode>>) -> impl IntoView {
    view! {
        <div class="tree" aria-label="Tables">
            {move || {
                tree.get()
                    .into_iter()
                    .map(|t| {
                        let more = t.chain_count.saturating_sub(t.chains.len());
                        view! {
                            <details class="table" open data-table=t.name>
                                <summary>
                                    <span class="table-name">{format!("*{}", t.name)}</span>
                                    <span class="count">{format!("{} chains", t.chain_count)}</span>
                                </summary>
                                <ul class="chains">
                                    {t.chains
                                        .into_iter()
                                        .map(|c| view! { <ChainView chain=c /> })
                                        .collect_view()}
                                    {(more > 0).then(|| view! { <li class="more">{format!("… {more} more chains")}</li> })}
                                </ul>
                            </details>
                        }
                    })
                    .collect_view()
            }}
        </div>
    }
}

/// One chain of the tree. Its rules are built only once the chain is opened:
/// a dump has tens of thousands of chains and most stay closed.
#[component]
fn ChainView(chain: crate::view_model::ChainNode) -> impl IntoView {
    let (open, set_open) = signal(false);
    let policy = chain.policy.unwrap_or("-");
    let count = chain.rule_count;
    let hidden = count.saturating_sub(chain.rules.len());
    let rules = StoredValue::new(chain.rules);
    view! {
        <li>
            <details class="chain" data-chain=chain.name.clone() on:toggle=move |ev| {
                let el: web_sys::HtmlDetailsElement = event_target(&ev);
                set_open.set(el.open());
            }>
                <summary>
                    <span class="chain-name">{chain.name.clone()}</span>
                    <span class=format!("policy policy-{}", policy.to_lowercase())>{policy}</span>
                    <span class="count">{format!("{count} rule{}", if count == 1 { "" } else { "s" })}</span>
                </summary>
                <Show when=move || open.get()>
                    <ol class="rules">
                        {rules.with_value(|rules| {
                            rules
                                .iter()
                                .map(|r| view! {
                                    <li data-line=r.line>
                                        <span class="rule-line">{format!("line {}", r.line)}</span>
                                        <code>{r.spec.clone()}</code>
                                    </li>
                                })
                                .collect_view()
                        })}
                        {(hidden > 0).then(|| view! { <li class="more">{format!("… {hidden} more rules")}</li> })}
                    </ol>
                </Show>
            </details>
        </li>
    }
}
