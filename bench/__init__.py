"""The benchmark suite behind ``make bench`` (``python -m bench``); see docs/performance.md.

It starts real server processes the way a user would and drives them with ``wrk``. Every target
is a ratio to a baseline measured in the same run, so the noise of a shared machine cancels out.
"""
