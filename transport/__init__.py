"""Bytes between processes over ZeroMQ.

Owns: the frame codec (pickle protocol 5 with out-of-band buffers and an allow-listing
unpickler), CURVE authentication, the inbound (ROUTER) and outbound socket threads, remote
actor references and the test fault filter.

Must never: import pykka or make protocol decisions.  Imports ``core``, ``zmq`` and
``cloudpickle`` only.
"""

__all__: list[str] = []
