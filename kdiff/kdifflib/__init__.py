"""kdiff: the iptables playground's kernel-differential harness.

The engine (nfsim) and the real kernel run the same generated scenarios; what
the kernel did (rules matched, policies, fate, packet out) is compared with
what `nfsim trace` says.  Python 3 standard library only; run as root.
"""
