"""Tools for plugin authors and operators: the project scaffold and the package installer.

The ``meetbridge plugins new/install/uninstall`` commands are thin wrappers around these.
"""
