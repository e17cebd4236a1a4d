"""Benchmarks for ringfinder (issue 6): ``python -m benchmarks.run``; see benchmarks/README.md.

The orchestrator (:mod:`benchmarks.run`) stays light (standard library only) so that the
peak RSS it measures for each child process is the child's own: every stage, every
comparison and the end-to-end ``ringfinder run`` is a separate process
(:mod:`benchmarks.stage`, :mod:`benchmarks.compare`).
"""
