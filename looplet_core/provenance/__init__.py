"""Provenance traces: write a run to a directory, read it back lazily, replay it, compare two.

``ProvenanceSink`` (a hook) writes; ``TraceReader`` reads; ``ReplayBackend`` / ``replay_loop``
replay; ``first_divergence`` compares.  The directory layout is documented in ``format.py`` and in
``docs/provenance.md``.

May import: the engine (replay drives it), ``state`` and everything below; not the loop,
``durable`` or ``runs``.  ``durable`` uses its ``redact`` so that checkpoints and traces hide
secrets the same way.
"""
