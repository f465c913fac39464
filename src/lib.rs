//! The iptables playground: a Leptos CSR app over the `nfsim` engine.
//!
//! [`view_model`] turns engine values into what the page shows (plain Rust,
//! tested natively); `app` holds the thin Leptos components (wasm32 only).

pub mod view_model;

#[cfg(target_arch = "wasm32")]
pub mod app;
