//! The Leptos components. Thin by design: they hold the ruleset text in one
//! signal, derive everything else through `Memo`s over the engine, and display
//! the view model. No iptables logic lives here.

use crate::view_model::{self, ProblemRow, TableNode, TraceForm, TraceView};
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
            <div class="side">
                <section class="tree-pane" aria-label="Ruleset tree">
                    <h2 class="pane-title">"Tables and chains"</h2>
                    <RulesetTree tree=tree />
                </section>
                <TracePane parsed=parsed on_pick=pick />
            </div>
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

/// The packet form and the trace of the last "Trace" press. The trace is
/// computed on demand, not as the ruleset is typed: a pasted dump is large.
#[component]
fn TracePane(
    parsed: Memo<Arc<nfsim::Parsed>>,
    on_pick: impl Fn(usize) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let d = TraceForm::default();
    let from = RwSignal::new(d.from);
    let src = RwSignal::new(d.src);
    let dst = RwSignal::new(d.dst);
    let protocol = RwSignal::new(d.protocol);
    let dport = RwSignal::new(d.dport);
    let addrs = RwSignal::new(d.addrs);
    let routes = RwSignal::new(d.routes);
    let result: RwSignal<Option<Result<TraceView, Vec<String>>>> = RwSignal::new(None);
    let run = move |_| {
        let form = TraceForm {
            from: from.get_untracked(),
            src: src.get_untracked(),
            dst: dst.get_untracked(),
            protocol: protocol.get_untracked(),
            dport: dport.get_untracked(),
            addrs: addrs.get_untracked(),
            routes: routes.get_untracked(),
        };
        result.set(Some(parsed.with_untracked(|p| view_model::trace(p, &form))));
    };
    let field = move |label: &'static str, sig: RwSignal<String>| {
        view! {
            <label class="field">
                <span>{label}</span>
                <input type="text" spellcheck="false" prop:value=move || sig.get() on:input=move |ev| sig.set(event_target_value(&ev)) />
            </label>
        }
    };
    view! {
        <section class="trace-pane" aria-label="Packet trace">
            <h2 class="pane-title">"Packet trace"</h2>
            <div class="trace-form">
                {field("From", from)}
                {field("Source", src)}
                {field("Destination", dst)}
                <label class="field">
                    <span>"Protocol"</span>
                    <select prop:value=move || protocol.get() on:change=move |ev| protocol.set(event_target_value(&ev))>
                        <option value="tcp">"tcp"</option>
                        <option value="udp">"udp"</option>
                        <option value="icmp">"icmp"</option>
                    </select>
                </label>
                {field("Destination port", dport)}
                <button class="trace-button" on:click=run>"Trace"</button>
            </div>
            <details class="host">
                <summary>"Host (ip -4 addr, ip -4 route)"</summary>
                <textarea aria-label="Host addresses" spellcheck="false" prop:value=move || addrs.get() on:input=move |ev| addrs.set(event_target_value(&ev))></textarea>
                <textarea aria-label="Host routes" spellcheck="false" prop:value=move || routes.get() on:input=move |ev| routes.set(event_target_value(&ev))></textarea>
            </details>
            {move || match result.get() {
                None => view! { <p class="trace-hint">"Craft a packet and press Trace to follow it through the hooks."</p> }.into_any(),
                Some(Err(problems)) => view! {
                    <ul class="trace-problems" role="alert">
                        {problems.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}
                    </ul>
                }.into_any(),
                Some(Ok(t)) => view! {
                    <p class="fate" data-testid="fate">{t.fate.clone()}</p>
                    {(!t.outcomes.is_empty()).then(|| view! {
                        <ul class="outcomes" aria-label="Outcomes">
                            {t.outcomes.iter().map(|(p, to)| view! { <li><span class="odds">{p.clone()}</span>{to.clone()}</li> }).collect_view()}
                        </ul>
                    })}
                    <ol class="trace" aria-label="Trace">
                        {t.steps.into_iter().map(|s| {
                            let class = format!("step {}{}", s.kind, if s.matched { " matched" } else { "" });
                            match s.line {
                                Some(line) => view! {
                                    <li class=class data-kind=s.kind data-line=line>
                                        <button class="step-line" title="Show this rule" on:click=move |_| on_pick(line)>{s.text}</button>
                                    </li>
                                }.into_any(),
                                None => view! { <li class=class data-kind=s.kind>{s.text}</li> }.into_any(),
                            }
                        }).collect_view()}
                    </ol>
                }.into_any(),
            }}
        </section>
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
