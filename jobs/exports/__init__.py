"""Apply-ready outputs: files that real tools take as they are.

Each module renders data into text (no I/O): a Compose override and
Kubernetes patches from right-sizing, the runway as Prometheus metrics, and
alert rules from the configuration. ``RIGHTSIZE_FORMATS`` is the registry the
``rightsize`` command looks formats up in.
"""
