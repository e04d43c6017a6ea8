"""Docker sandbox for untrusted code.

Built so far: the hardened container configuration (`referee.sandbox.container`) and the
sandbox image (`sandbox/Dockerfile`, built offline by `deploy/build-images.sh`). Not built yet:
the warm pool, the runner that executes a program and its tests inside a container, and the
`code` scorer on top of them.
"""
