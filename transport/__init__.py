"""Bytes between processes over ZeroMQ.

Owns: the frame codec (pickle protocol 5 with out-of-band buffers and an allow-listing
unpickler), CURVE authentication, the inbound (ROUTER) and outbound socket threads, remote
actor references and the test fault filter.

Must never: import pykka or make protocol decisions.  Imports ``core``, ``zmq`` and
``cloudpickle`` only.
"""

from zafka.transport.auth import Credentials
from zafka.transport.codec import DecodeError, EncodeError
from zafka.transport.endpoint import Endpoint
from zafka.transport.faults import FaultFilter
from zafka.transport.remote import Postbox, RemoteRef

__all__ = ["Credentials", "DecodeError", "EncodeError", "Endpoint", "FaultFilter", "Postbox",
           "RemoteRef"]
