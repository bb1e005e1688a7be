"""`make bench`: lambench's speed and memory figures, each beside a baseline measured in the same run.

Development only: this folder is not part of the installed package. `python -m benchmarks.run`
from the project's root runs every section.
"""
