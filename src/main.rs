//! Entry point: Trunk builds this binary for wasm32. On the page it mounts
//! the app; in the engine's worker (which loads this same module) there is no
//! window, so it mounts nothing and the worker calls `worker_main` instead.

#[cfg(target_arch = "wasm32")]
fn main() {
    if web_sys::window().is_some() {
        iptables_playground::app::mount();
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!(
        "the playground runs in a browser: serve it with scripts/dev.sh (or use the nfsim CLI)"
    );
}
