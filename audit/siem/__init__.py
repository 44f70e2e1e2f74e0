"""The SIEM stream: sealed events and checkpoints, once each, on a sink of their own.

- ``streamer``: the sealer lease holder writes every sealed event (and each signed
  checkpoint) after the durable stream position, then advances it.
- ``sinks``: where the lines go (AUDIT_STREAM): a file, a syslog target, stdout, off.
- ``documents``: an event or checkpoint as the stream's JSON document, with the host
  and process that wrote the line.
- ``ocsf`` and ``cef``: the same event in OCSF 1.3 and in ArcSight CEF (AUDIT_STREAM_FORMAT,
  and ``format=ocsf`` on the export).

Only ``audit`` imports this package: the sealer's loop (``audit.sealing.loop``), the
export, the start-up checks and the commands. It imports ``audit.models``, ``audit.chain``,
``audit.lease`` (a stream round is fenced by the sealer lease) and
``audit.verification.checkpoints`` (a stored checkpoint's document), never the sealer.
"""
