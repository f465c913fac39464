//! The engine off the main thread. [`run`] is the worker's `main`: it keeps a
//! [`Session`] and answers [`Request`]s. [`Client`] is the page's side: it
//! spawns the worker, sends the ruleset text as a JS string beside a JSON
//! header (no copy into the page's wasm memory), and keeps one request in
//! flight with at most one pending, which a newer request replaces: fast
//! typing never queues stale work.
//!
//! The worker runs the page's own wasm module (one download, one build): a
//! small module script, made as a Blob, imports the page's wasm-bindgen glue,
//! initialises it (whose `main` mounts nothing where there is no window) and
//! calls the exported [`worker_main`].

use crate::session::{BatchView, PlayInput, Request, Response, Session};
use js_sys::Array;
use std::cell::Cell;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent, Worker, WorkerOptions, WorkerType};

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// The worker's entry point, called by the worker's module script.
#[wasm_bindgen]
pub fn worker_main() {
    run();
}

/// The URLs of this module's wasm-bindgen glue and of its wasm, as Trunk
/// preloads them (the glue's default wasm name is not the hashed one).
fn module_urls() -> Option<(String, String)> {
    let doc = web_sys::window()?.document()?;
    let base = doc.base_uri().ok()??;
    let find = |selector: &str, suffix: &str| -> Option<String> {
        let links = doc.query_selector_all(selector).ok()?;
        (0..links.length()).find_map(|i| {
            let el: web_sys::Element = links.item(i)?.unchecked_into();
            let href = el.get_attribute("href")?;
            let file = href.rsplit('/').next().unwrap_or("");
            (file.starts_with("iptables-playground") && file.ends_with(suffix))
                .then(|| {
                    web_sys::Url::new_with_base(&href, &base)
                        .ok()
                        .map(|u| u.href())
                })
                .flatten()
        })
    };
    Some((
        find("link[rel=modulepreload]", ".js")?,
        find("link[rel=preload]", "_bg.wasm")?,
    ))
}

/// Run the engine in this thread (inside the worker).
pub fn run() {
    console_error_panic_hook::set_once();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let session = RefCell::new(Session::new());
    let post_scope = scope.clone();
    let post = move |r: &Response| {
        let json = serde_json::to_string(r).unwrap_or_default();
        let _ = post_scope.post_message(&JsValue::from_str(&json));
    };
    let post2 = post.clone();
    // The batch running (its id), 0 for none: a newer batch or a cancel
    // stops the one in progress at its next slice.
    let batch_now = Rc::new(Cell::new(0u32));
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
        let data: Array = ev.data().unchecked_into();
        let Some(header) = data.get(0).as_string() else {
            return;
        };
        let Ok(req) = serde_json::from_str::<Request>(&header) else {
            return;
        };
        let mut s = session.borrow_mut();
        match req {
            Request::Work { id, parse, trace } => {
                let t0 = now_ms();
                let parsed = parse.then(|| {
                    let text = data.get(1).as_string().unwrap_or_default();
                    s.parse(&text)
                });
                let parse_ms = now_ms() - t0;
                if parsed.is_some() && trace.is_some() {
                    post2(&Response::Work {
                        id,
                        parsed,
                        traced: None,
                        parse_ms,
                        trace_ms: None,
                        done: false,
                    });
                    let t1 = now_ms();
                    let traced = trace.map(|input| s.trace(&input));
                    post2(&Response::Work {
                        id,
                        parsed: None,
                        traced,
                        parse_ms,
                        trace_ms: Some(now_ms() - t1),
                        done: true,
                    });
                } else {
                    let t1 = now_ms();
                    let traced = trace.map(|input| s.trace(&input));
                    post2(&Response::Work {
                        id,
                        parsed,
                        traced,
                        parse_ms,
                        trace_ms: Some(now_ms() - t1),
                        done: true,
                    });
                }
            }
            Request::Chain { id, table, chain } => post2(&Response::Chain {
                id,
                rules: s.chain_rules(&table, &chain),
                table,
                chain,
            }),
            Request::Batch { id, input, n } => match s.batch_loaded(&input) {
                Err(e) => post2(&Response::Batch {
                    id,
                    result: Err(e),
                    done: true,
                }),
                Ok(loaded) => {
                    batch_now.set(id);
                    wasm_bindgen_futures::spawn_local(run_batch(
                        id,
                        loaded,
                        n,
                        batch_now.clone(),
                        post2.clone(),
                    ));
                }
            },
            Request::Export { id, format } => post2(&Response::Export {
                id,
                text: s.export(&format),
                format,
            }),
            Request::Cancel { id } => {
                if batch_now.get() == id {
                    batch_now.set(0);
                }
            }
        }
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    post(&Response::Ready);
}

/// Run a batch in slices of about 40 ms, posting the counts after each and
/// yielding to the worker's event loop between them, so a cancel, an edit or
/// a newer batch is read in time.
async fn run_batch(
    id: u32,
    loaded: nfsim::scenario::Loaded,
    n: u64,
    now: Rc<Cell<u32>>,
    post: impl Fn(&Response),
) {
    let mut run = match nfsim::scenario::BatchRun::new(&loaded) {
        Ok(r) => r,
        Err(e) => {
            post(&Response::Batch {
                id,
                result: Err(crate::session::TraceProblems {
                    fields: vec![],
                    messages: vec![e.to_string()],
                    interfaces: vec![],
                }),
                done: true,
            });
            return;
        }
    };
    let mut slice = 32u64;
    loop {
        if now.get() != id {
            return;
        }
        let t0 = now_ms();
        run.run(slice.min(n - run.sent()));
        let dt = now_ms() - t0;
        if dt < 20.0 {
            slice = slice.saturating_mul(2);
        } else if dt > 80.0 {
            slice = (slice / 2).max(1);
        }
        let done = run.sent() >= n;
        post(&Response::Batch {
            id,
            result: Ok(BatchView::of(&loaded, &run.batch(), n)),
            done,
        });
        if done {
            now.set(0);
            return;
        }
        yield_now().await;
    }
}

/// Let the worker's event loop run (a zero timeout).
async fn yield_now() {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        let g: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let _ = g.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(p).await;
}

#[derive(Default)]
struct Pending {
    text: Option<JsValue>,
    trace: Option<PlayInput>,
    /// Whether anything is pending at all.
    any: bool,
}

struct State {
    ready: bool,
    in_flight: bool,
    pending: Pending,
    next_id: u32,
}

/// The page's handle on the engine worker.
#[derive(Clone)]
pub struct Client {
    worker: Worker,
    state: Rc<RefCell<State>>,
}

impl Client {
    /// Spawn the worker; `on_response` receives every answer on the main thread.
    pub fn spawn(on_response: impl Fn(Response) + 'static) -> Result<Client, JsValue> {
        let (glue, wasm) = module_urls()
            .ok_or_else(|| JsValue::from_str("the page's wasm module is not preloaded"))?;
        let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
        let script = format!(
            "import init, {{ worker_main }} from {};\nawait init({{ module_or_path: {} }});\nworker_main();\n",
            q(&glue),
            q(&wasm)
        );
        let parts = Array::of1(&JsValue::from_str(&script));
        let bag = web_sys::BlobPropertyBag::new();
        bag.set_type("text/javascript");
        let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &bag)?;
        let url = web_sys::Url::create_object_url_with_blob(&blob)?;
        let opts = WorkerOptions::new();
        opts.set_type(WorkerType::Module);
        let worker = Worker::new_with_options(&url, &opts)?;
        let client = Client {
            worker,
            state: Rc::new(RefCell::new(State {
                ready: false,
                in_flight: false,
                pending: Pending::default(),
                next_id: 1,
            })),
        };
        let c = client.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            let Some(json) = ev.data().as_string() else {
                return;
            };
            let Ok(resp) = serde_json::from_str::<Response>(&json) else {
                return;
            };
            match &resp {
                Response::Ready => c.state.borrow_mut().ready = true,
                Response::Work { done, .. } => {
                    if *done {
                        c.state.borrow_mut().in_flight = false
                    }
                }
                Response::Chain { .. } | Response::Batch { .. } | Response::Export { .. } => {}
            }
            if !matches!(resp, Response::Ready) {
                on_response(resp);
            }
            c.flush();
        });
        client
            .worker
            .set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
        Ok(client)
    }

    /// Parse `text` (when given) and trace `trace` (when given). Merged with
    /// whatever is still waiting: the newest text and the newest trace win.
    pub fn work(&self, text: Option<JsValue>, trace: Option<PlayInput>) {
        {
            let mut s = self.state.borrow_mut();
            if text.is_some() {
                s.pending.text = text;
            }
            if trace.is_some() {
                s.pending.trace = trace;
            }
            s.pending.any = true;
        }
        self.flush();
    }

    /// Ask for one chain's rules.
    pub fn chain(&self, table: &str, chain: &str) {
        let id = {
            let mut s = self.state.borrow_mut();
            s.next_id += 1;
            s.next_id
        };
        let req = Request::Chain {
            id,
            table: table.into(),
            chain: chain.into(),
        };
        self.post(&req, None);
    }

    /// Start "Run N packets" for the selected packet of `input`; its id.
    pub fn batch(&self, input: PlayInput, n: u64) -> u32 {
        let id = {
            let mut s = self.state.borrow_mut();
            s.next_id += 1;
            s.next_id
        };
        self.post(&Request::Batch { id, input, n }, None);
        id
    }

    /// Ask for the ruleset as `save`, `commands` or `nft`.
    pub fn export(&self, format: &str) {
        let id = {
            let mut s = self.state.borrow_mut();
            s.next_id += 1;
            s.next_id
        };
        self.post(
            &Request::Export {
                id,
                format: format.into(),
            },
            None,
        );
    }

    pub fn cancel(&self, id: u32) {
        self.post(&Request::Cancel { id }, None);
    }

    fn flush(&self) {
        let (req, text) = {
            let mut s = self.state.borrow_mut();
            if !s.ready || s.in_flight || !s.pending.any {
                return;
            }
            let p = std::mem::take(&mut s.pending);
            s.in_flight = true;
            s.next_id += 1;
            (
                Request::Work {
                    id: s.next_id,
                    parse: p.text.is_some(),
                    trace: p.trace,
                },
                p.text,
            )
        };
        self.post(&req, text);
    }

    fn post(&self, req: &Request, text: Option<JsValue>) {
        let msg = Array::new();
        msg.push(&JsValue::from_str(
            &serde_json::to_string(req).unwrap_or_default(),
        ));
        if let Some(t) = text {
            msg.push(&t);
        }
        let _ = self.worker.post_message(&msg);
    }
}
