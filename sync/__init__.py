"""The way out: the durable sighting queue, the register adapters and batch sync.

It uses ``hal`` and never ``firmware``: what a register holds (:mod:`sync.asset`,
:mod:`sync.person`), its errors (:mod:`sync.errors`) and its settings (:mod:`sync.settings`)
are this package's own.
"""
