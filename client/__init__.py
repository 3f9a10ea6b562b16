"""The public Python API: Producer, Consumer (groups), Admin, serializers, partitioner.

Built on ``transport``; its long-lived parts are pykka actors wrapped by a blocking facade.
"""

__all__: list[str] = []
