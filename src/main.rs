//! Entry point: Trunk builds this binary for wasm32 and mounts the app.

#[cfg(target_arch = "wasm32")]
fn main() {
    iptables_playground::app::mount();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!(
        "the playground runs in a browser: serve it with scripts/dev.sh (or use the nfsim CLI)"
    );
}
