"""The reference receiver: the register protocol (``sync/openapi.yaml``) served from one machine.

``stocktaker register-server`` runs it: the manifest comes from an expected-inventory CSV,
sightings, idempotency keys and reports go into one SQLite file. It is what the ``http``
adapter is tested against, and a working example for anyone implementing the protocol in
their own inventory system (``docs/protocol.md``).
"""

from sync.receiver.manifest import ManifestSource
from sync.receiver.people import PeopleSource
from sync.receiver.run import run_receiver
from sync.receiver.server import ReceiverServer, start_in_thread
from sync.receiver.store import ReceiverStore

__all__ = ["ManifestSource", "PeopleSource", "ReceiverServer", "ReceiverStore", "run_receiver",
           "start_in_thread"]
