"""Neo4j: the graph model, loader, write-back, perspectives, and a local server for dev/CI.

Import the submodules directly (``ringfinder.neo4j.server``, ``ringfinder.neo4j.writer``,
...); this package imports nothing, so ``import ringfinder.neo4j`` needs no driver.
"""
