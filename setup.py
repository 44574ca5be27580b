"""Packaging glue pyproject.toml cannot express: the top-level resources/ folder installs as
the package iopdesk.resources (mapped in [tool.setuptools.package-dir]), beside the packages
found under iopdesk/. Everything else is configured in pyproject.toml."""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["iopdesk", "iopdesk.*"]), "iopdesk.resources"])
