"""Hardware behind small interfaces: each kind of part has its real backend and its stand-in.

Nothing above ``hal`` knows which backend it talks to; hardware libraries are imported
only inside the real backends, so the package imports on any Linux machine.
"""
