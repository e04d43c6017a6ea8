"""Docker sandbox for untrusted code (hardened warm pool).

Not built yet: the `code` scorer and this package arrive with the sandbox issue. The package
exists now so that the `referee.sandbox` import name is reserved by the distribution layout.
"""
