"""Docker sandbox for untrusted code: hardened containers (`container`), a warm pool per
process (`pool`), the host side of the runner protocol (`channel`, `protocol`), and the
scripts that run inside a container (`runner`, `tester`, `program_host`; stdlib only, sent as
source, never imported on the host). The `code` scorer (`referee.verifiers.code`) builds jobs
and judges their results.
"""
