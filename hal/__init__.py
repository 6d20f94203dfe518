"""Hardware behind small interfaces: each kind of part has its real backend and its stand-in.

Nothing above ``hal`` knows which backend it talks to; hardware libraries are imported
only inside the real backends, so the package imports on any Linux machine.

The lowest layer: it imports neither ``sync`` nor ``firmware``. Besides the parts it holds
what every layer shares: the root of the error family (:mod:`hal.errors`), the device's
clock (:mod:`hal.clock`), terminal-safe text (:mod:`hal.text`) and label drawing
(:mod:`hal.labels`).
"""
