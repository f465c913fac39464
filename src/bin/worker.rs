//! The engine's Web Worker: Trunk builds this binary as a module worker
//! (`data-type="worker"` in index.html); the page spawns `worker_loader.js`.

#[cfg(target_arch = "wasm32")]
fn main() {
    iptables_playground::worker::run();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the engine worker runs in a browser; use the nfsim CLI natively");
}
