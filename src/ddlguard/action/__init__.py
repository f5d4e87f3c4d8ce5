"""The GitHub Action (``action.yml`` at the repository root) as testable Python.

``python -m ddlguard.action.run`` is what the action's last step runs: it reads the action's
inputs and the ``GITHUB_*`` variables from the environment (never from interpolated shell text),
fetches the pull request's base when the checkout is shallow, runs ``ddlguard check`` (and
``ddlguard drift`` when a canonical schema is configured) once each with ``--format json``, and
renders the annotations, the job summary and the SARIF file from those same findings.
:mod:`ddlguard.action.comment` keeps the one PR comment up to date through the GitHub REST API.

Standard library only (``urllib.request``), so the action needs nothing beyond ddlguard itself.
"""
