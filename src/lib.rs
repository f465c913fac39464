//! The iptables playground: a Leptos CSR app over the `nfsim` engine.
//!
//! Plain Rust, tested natively: [`view_model`] (problems, summary, tree),
//! [`packet_form`] (the crafted packet and its quick form), [`diagram`] (the
//! packet-flow drawing's geometry, from the engine's hook order), [`timeline`]
//! (a trace as the player's frames), [`session`] (what the engine worker
//! holds and the messages to it), [`presets`] (the Examples gallery's
//! scenarios) and [`share`] (share links and scenario files). On wasm32 only:
//! `app` (thin Leptos components), `browser` (URL fragment, clipboard, files,
//! drafts in localStorage), `editor` (the CodeMirror binding) and `worker` (the
//! engine's Web Worker, which runs this same wasm module, and the page's client
//! of it).

pub mod diagram;
pub mod packet_form;
pub mod presets;
pub mod session;
pub mod share;
pub mod timeline;
pub mod view_model;

#[cfg(target_arch = "wasm32")]
pub mod app;
#[cfg(target_arch = "wasm32")]
pub mod browser;
#[cfg(target_arch = "wasm32")]
pub mod editor;
#[cfg(target_arch = "wasm32")]
pub mod worker;
