"""The Kafka wire protocol at a broker's edge (installed as ``zafka.kafka``).

Sans-IO: bytes in, catalogue requests out, catalogue replies in, bytes out.  ``framing``
cuts frames and reads request headers, ``codec`` (de)serialises bodies with kio (typed
entities generated from Kafka's own JSON message schemas), ``connection`` keeps a
connection's responses in request order, ``registry`` maps an API key to the module of its
family, and each family module (``api_versions``, ``metadata``, ...) translates.

Must never: decide anything about offsets, epochs, sequences, deadlines or permissions: the
broker's cores do; this layer only translates.
"""

from zafka.kafka.connection import KafkaConnection
from zafka.kafka.handler import Ask, Context, Outcome, Respond, Target, Tell
from zafka.kafka.registry import dispatch, supported_versions

__all__ = ["Ask", "Context", "KafkaConnection", "Outcome", "Respond", "Target", "Tell", "dispatch",
           "supported_versions"]
