//! The iptables playground web app (Leptos, client-side rendered).
