"""Google Meet conferencing for meetbridge: a plugin (``plugin``) and a sandbox (``sandbox``)."""
