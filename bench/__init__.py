"""Side-by-side benchmarks of cloudyfiles and its peers on a local SeaweedFS.

Run ``python -m bench`` from the repository root; ``--help`` lists the options.
"""
